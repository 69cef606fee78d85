"""Scoring with a registered model, without torch: the path ``roadtest predict`` and the API share.

``load_champion(settings)`` downloads the champion's folder from the registry
and returns a ``LoadedModel`` whose ``score`` takes the vehicles' feature-mart
and event-mart rows and returns P(fail) and P(group). Recurrent models run in
ONNX Runtime, baselines in scikit-learn; neither path imports torch, so the
serving image can leave it out. The same ``score`` is what training uses to
measure the current champion on a challenger's test window.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

from roadtest.config import Settings
from roadtest.features import FeatureSpec, build_sequences, build_tabular
from roadtest.models.baseline import BaselineModel
from roadtest.models.onnx_scorer import OnnxScorer
from roadtest.training.registry import Registry, RegistryError, StoredModel, read_model_folder
from roadtest.warehouse import Warehouse
from roadtest.warehouse.schema import PREDICTIONS
from roadtest.warehouse.store import utc_now

TOP_GROUPS: Final = 3
"""Failure groups named per vehicle in a prediction, most likely first."""

OUTPUT_FORMATS: Final = (".csv", ".parquet")

Scorer = Callable[[pl.DataFrame, pl.DataFrame], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LoadedModel:
    """A registered version ready to score: its threshold, feature spec and failure groups."""

    version: str
    kind: str
    threshold: float
    group_names: tuple[str, ...]
    feature_spec: FeatureSpec
    metadata: Mapping[str, Any] = field(default_factory=dict)
    _scorer: Scorer | None = field(default=None, repr=False, compare=False)

    def score(self, features: pl.DataFrame, events: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(P(fail) [N], P(group) [N, G]) for the vehicles of ``features``, in its row order.

        ``features``/``events`` are ``mart_vehicle_features`` / ``mart_vehicle_events``
        rows; events of vehicles not in ``features`` are ignored.
        """
        if self._scorer is None:
            raise RegistryError("this LoadedModel was built without a scorer; use load_version")
        if features.height == 0:
            return np.empty(0), np.empty((0, len(self.group_names)))
        return self._scorer(features, events)


def _baseline_scorer(model: BaselineModel, spec: FeatureSpec) -> Scorer:
    def score(features: pl.DataFrame, events: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        table = build_tabular(features, events, spec.tabular)
        p_groups = (
            model.predict_groups(table) if model.n_groups else np.empty((table.n_vehicles, 0))
        )
        return model.predict_proba(table), p_groups

    return score


def _onnx_scorer(scorer: OnnxScorer, spec: FeatureSpec) -> Scorer:
    def score(features: pl.DataFrame, events: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        knrs = features.get_column("knr").to_list()
        return scorer.predict(build_sequences(events, features, spec.sequence, knrs))

    return score


def loaded_from_stored(version: str, stored: StoredModel) -> LoadedModel:
    """A ``LoadedModel`` from the content of a model folder."""
    spec = FeatureSpec.from_json(stored.feature_spec_json)
    scorer: Scorer
    if stored.is_recurrent:
        scorer = _onnx_scorer(OnnxScorer(stored.model_bytes), spec)
    else:
        scorer = _baseline_scorer(BaselineModel.from_bytes(stored.model_bytes), spec)
    return LoadedModel(
        version=version,
        kind=stored.kind,
        threshold=stored.threshold,
        group_names=stored.group_names,
        feature_spec=spec,
        metadata=stored.metadata,
        _scorer=scorer,
    )


def load_version(registry: Registry, version: str) -> LoadedModel:
    """Download and load one registered version."""
    with tempfile.TemporaryDirectory(prefix="roadtest-model-") as tmp:
        folder = registry.download_version(version, Path(tmp))
        stored = read_model_folder(folder)
    return loaded_from_stored(version, stored)


def load_champion_from(registry: Registry) -> LoadedModel:
    """The champion of ``registry``, or a RegistryError saying how to get one."""
    champion = registry.get_champion()
    if champion is None:
        raise RegistryError(
            f"model {registry.model_name!r} has no champion yet: run `roadtest train` "
            "(the first trained model becomes champion) or `roadtest models promote VERSION`"
        )
    return load_version(registry, champion.version)


def load_champion(settings: Settings) -> LoadedModel:
    """The champion of the registry the settings point at (what serving loads)."""
    return load_champion_from(Registry.from_settings(settings))


def top_groups(p_groups: np.ndarray, names: Sequence[str], k: int = TOP_GROUPS) -> pl.DataFrame:
    """Per vehicle, the ``k`` most likely failure groups and their probabilities."""
    n, g = p_groups.shape
    k = min(k, g)
    order = np.argsort(-p_groups, axis=1, kind="stable")[:, :k]
    columns: dict[str, Any] = {}
    for rank in range(k):
        columns[f"group_{rank + 1}"] = [names[i] for i in order[:, rank]]
        columns[f"p_group_{rank + 1}"] = p_groups[np.arange(n), order[:, rank]]
    return pl.DataFrame(columns, schema={c: _group_dtype(c) for c in columns})


def _group_dtype(column: str) -> pl.DataType:
    return pl.Float64() if column.startswith("p_") else pl.String()


def score_vehicles(
    model: LoadedModel,
    features: pl.DataFrame,
    events: pl.DataFrame,
    predicted_at: datetime | None = None,
) -> pl.DataFrame:
    """One prediction per vehicle of ``features``: probability, decision, top groups, version."""
    p_fail, p_groups = model.score(features, events)
    base = pl.DataFrame(
        {
            "knr": features.get_column("knr"),
            "probability": pl.Series(p_fail, dtype=pl.Float64),
            "decision": pl.Series(p_fail >= model.threshold, dtype=pl.Boolean),
        }
    )
    return pl.concat(
        [
            base,
            top_groups(p_groups, model.group_names),
            pl.DataFrame(
                {
                    "model_version": [model.version] * features.height,
                    "predicted_at": [predicted_at or utc_now()] * features.height,
                    "features_as_of": features.get_column("as_of"),
                },
                schema={
                    "model_version": pl.String(),
                    "predicted_at": PREDICTIONS.schema()["predicted_at"],
                    "features_as_of": PREDICTIONS.schema()["features_as_of"],
                },
            ),
        ],
        how="horizontal",
    )


def select_vehicles(
    warehouse: Warehouse, knrs: Sequence[str] | None, pending_only: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Feature and event mart rows of ``knrs`` (all vehicles when None), or a clear error.

    ``pending_only`` keeps vehicles that have not reached the road test yet,
    the ones a prediction is for.
    """
    features = warehouse.read_features(None if knrs is None else list(dict.fromkeys(knrs)))
    if knrs is not None:
        unknown = sorted(set(knrs) - set(features.get_column("knr").to_list()))
        if unknown:
            shown = ", ".join(unknown[:10])
            raise ValueError(
                f"{len(unknown)} KNR(s) have no data in the warehouse: {shown}; ingest their "
                "exports and run `roadtest etl` first"
            )
    if pending_only:
        features = features.filter(~pl.col("labelled"))
    if features.height == 0:
        raise ValueError("no vehicle to score: the warehouse holds none of those asked for")
    events = warehouse.read_events(features.get_column("knr").to_list())
    return features, events


def predict_and_store(
    warehouse: Warehouse,
    model: LoadedModel,
    knrs: Sequence[str] | None,
    pending_only: bool = False,
) -> pl.DataFrame:
    """Score vehicles of the warehouse with ``model`` and store the predictions there."""
    features, events = select_vehicles(warehouse, knrs, pending_only)
    predictions = score_vehicles(model, features, events)
    warehouse.record_predictions(predictions.select(PREDICTIONS.schema().names()))
    return predictions


def write_predictions(predictions: pl.DataFrame, path: Path) -> Path:
    """Write predictions as CSV or Parquet, chosen by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(
            f"cannot write predictions to {path.name}: use a {' or '.join(OUTPUT_FORMATS)} file"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        predictions.write_csv(path)
    else:
        predictions.write_parquet(path)
    return path
