"""One training run: warehouse marts → time split → models → evaluation → MLflow → registry.

``train`` is plain Python (the CLI and the orchestration layer call it):

1. read the labelled vehicles' labels and marts, with the lineage of that data
   (the bronze Delta versions and the ETL run the warehouse reflects, counts,
   a fingerprint of the rows, the code version);
2. split by road-test time (train on older vehicles, test on the newest);
3. fit the feature spec on the training vehicles only and build inputs;
4. fit each asked model; its decision threshold is chosen on validation;
5. evaluate every model, and the oracle (the simulator's true probabilities,
   when a truth table is given), on the test window at its natural balance;
6. log parameters, metrics, epoch curves, the report, the feature spec and the
   lineage as one MLflow run; register the model with the best *validation*
   PR-AUC (the test window stays untouched by that choice) as a new version;
7. score the current champion on the same test vehicles and apply the
   promotion rule; every change of champion goes to the model-activation table.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

from roadtest.contracts.partner import S_GROUPS
from roadtest.contracts.warehouse import slug
from roadtest.features import (
    FeatureSpec,
    SequenceConfig,
    TabularConfig,
    build_sequences,
    build_tabular,
    fit_feature_spec,
)
from roadtest.models.baseline import BaselineKind, BaselineModel
from roadtest.models.inputs import SequenceInputs, TabularInputs
from roadtest.models.recurrent import (
    CellKind,
    EpochLog,
    FittedRecurrent,
    RecurrentConfig,
    export_onnx,
    fit_recurrent,
)
from roadtest.progress import NO_PROGRESS, Progress
from roadtest.training.evaluate import (
    DEFAULT_BUDGETS,
    ORACLE_NAME,
    Evaluation,
    budget_label,
    choose_threshold,
    compare,
    evaluate_scores,
)
from roadtest.training.promotion import (
    PromotionDecision,
    PromotionRule,
    activate_version,
    decide_promotion,
    recall_at,
)
from roadtest.training.registry import (
    MODEL_ARTIFACT_PATH,
    Registry,
    RunLogger,
    StoredModel,
    write_model_folder,
)
from roadtest.training.report import render_report
from roadtest.training.scoring import load_version
from roadtest.training.split import Split, time_split
from roadtest.warehouse import Warehouse
from roadtest.warehouse.schema import ETL_RUN

_CELLS: Final[dict[str, CellKind]] = {"gru": "gru", "lstm": "lstm"}
_BASELINES: Final[dict[str, BaselineKind]] = {
    "gbm": "boosting",
    "logreg": "logistic",
    "prior": "prior",
}
MODEL_CHOICES: Final = (*_CELLS, *_BASELINES)
"""Model names ``train`` accepts: GRU/LSTM cells, then baselines (``prior`` = no model)."""

DEFAULT_MODELS: Final = ("gru", "lstm", "gbm", "logreg")
RECURRENT_MODELS: Final = frozenset(_CELLS)
GROUP_NAMES: Final = tuple(S_GROUPS.values())
"""Failure groups the models score, in the order of their probability columns."""
GROUP_LABEL_COLUMNS: Final = tuple(f"fails_{slug(name)}" for name in GROUP_NAMES)

EpochCallback = Callable[[str, EpochLog], None]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; the defaults suit one plant's few months of data."""

    recurrent: RecurrentConfig = field(default_factory=RecurrentConfig)
    tabular: TabularConfig = field(default_factory=TabularConfig)
    sequence: SequenceConfig = field(default_factory=SequenceConfig)
    target_recall: float = 0.8
    """Decision threshold: the highest that catches this share of validation failures."""
    budgets: tuple[float, ...] = DEFAULT_BUDGETS
    valid_fraction: float = 0.15
    """Share of labelled vehicles, newer than the training ones, that pick epochs and thresholds."""
    test_fraction: float = 0.15
    """Share of the newest labelled vehicles every model (and the champion) is measured on."""
    promotion: PromotionRule = field(default_factory=PromotionRule)
    refit_baselines: bool = True
    """Refit the tabular baselines on training + validation vehicles before the test.

    The validation window is the newest labelled data a model may learn from; in
    a plant whose failure causes drift, leaving it out costs the most recent
    signal. Validation metrics and the threshold come from the training-only
    fit (out of sample); the test window stays unseen. The recurrent models keep
    their training-window fit: validation picks their epoch and calibrates them.
    """
    seed: int = 0

    @classmethod
    def seeded(cls, seed: int, max_epochs: int | None = None, **options: Any) -> TrainConfig:
        """The config of one training run as its callers ask for it (CLI, API, orchestrator):
        one seed for every model, the recurrent models' epoch limit when given."""
        recurrent = RecurrentConfig(seed=seed)
        if max_epochs is not None:
            recurrent = replace(recurrent, max_epochs=max_epochs)
        return cls(recurrent=recurrent, seed=seed, **options)

    def __post_init__(self) -> None:
        if not 0 < self.target_recall <= 1:
            raise ValueError(f"target_recall must lie in (0, 1], got {self.target_recall}")
        if not any(math.isclose(b, self.promotion.budget) for b in self.budgets):
            raise ValueError(
                f"the promotion budget {self.promotion.budget} must be among the evaluated "
                f"budgets {self.budgets}"
            )

    def to_params(self) -> dict[str, Any]:
        """Flat MLflow parameters."""
        params: dict[str, Any] = {
            "target_recall": self.target_recall,
            "budgets": ",".join(f"{b:g}" for b in self.budgets),
            "promotion.margin": self.promotion.margin,
            "promotion.budget": self.promotion.budget,
            "seed": self.seed,
            "valid_fraction": self.valid_fraction,
            "test_fraction": self.test_fraction,
            "refit_baselines": self.refit_baselines,
        }
        params |= {f"recurrent.{k}": v for k, v in self.recurrent.to_dict().items()}
        params |= {
            "tabular.min_ok_results": self.tabular.min_ok_results,
            "tabular.near_limit": self.tabular.near_limit,
            "tabular.test_positions": self.tabular.test_positions,
            "tabular.pooled_positions": self.tabular.pooled_positions,
            "tabular.near_edge": self.tabular.near_edge,
            "tabular.line_entry_time": self.tabular.line_entry_time,
            "tabular.defect_types": self.tabular.defect_types,
            "tabular.min_defect_type_count": self.tabular.min_defect_type_count,
            "tabular.max_defect_types": self.tabular.max_defect_types,
            "sequence.granularity": self.sequence.granularity,
            "sequence.max_len": self.sequence.max_len,
            "sequence.min_count": self.sequence.min_count,
            "sequence.clip": self.sequence.clip,
            "sequence.static_positions": self.sequence.static_positions,
        }
        return params


@dataclass(frozen=True)
class ModelResult:
    """One trained model: its threshold and its validation and test evaluations."""

    name: str
    threshold: float
    valid: Evaluation
    test: Evaluation
    best_epoch: int | None = None
    epochs: int | None = None


@dataclass(frozen=True)
class TrainResult:
    """What a run produced; ``to_dict`` is the ``roadtest train --json`` output."""

    run_id: str
    windows: Mapping[str, tuple[datetime, datetime]]
    counts: Mapping[str, int]
    models: Mapping[str, ModelResult]
    best_model: str
    registered_version: str
    decision: PromotionDecision
    previous_champion: str | None
    lineage: Mapping[str, Any]
    oracle: Evaluation | None = None
    champion_on_test: Evaluation | None = None

    @property
    def promoted(self) -> bool:
        """The registered version became the champion."""
        return self.decision.promote

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN metrics become null)."""
        return {
            "run_id": self.run_id,
            "test_window": _window_dict(self.windows["test"]),
            "windows": {name: _window_dict(w) for name, w in self.windows.items()},
            "counts": dict(self.counts),
            "models": {
                name: {
                    "threshold": result.threshold,
                    "valid_pr_auc": _json_float(result.valid.pr_auc),
                    "best_epoch": result.best_epoch,
                    "epochs": result.epochs,
                    "test": _metrics_dict(result.test),
                }
                for name, result in self.models.items()
            },
            "oracle": None if self.oracle is None else _metrics_dict(self.oracle),
            "best_model": self.best_model,
            "registered_version": self.registered_version,
            "promoted": self.promoted,
            "promotion_reason": self.decision.reason,
            "promotion": self.decision.to_dict(),
            "previous_champion": self.previous_champion,
            "champion_on_test": (
                None if self.champion_on_test is None else _metrics_dict(self.champion_on_test)
            ),
            "lineage": dict(self.lineage),
        }


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


def _metrics_dict(evaluation: Evaluation) -> dict[str, float | None]:
    return {k: _json_float(v) for k, v in evaluation.to_dict().items()}


def _window_dict(window: tuple[datetime, datetime]) -> dict[str, str]:
    return {"start": window[0].isoformat(), "end": window[1].isoformat()}


# --- data and lineage -------------------------------------------------------------


@dataclass(frozen=True)
class TrainingData:
    """Labels and marts of the labelled vehicles that have pre-road-test data."""

    labels: pl.DataFrame
    features: pl.DataFrame
    events: pl.DataFrame
    labelled_without_features: int


def read_training_data(warehouse: Warehouse) -> TrainingData:
    """The labelled vehicles' labels and marts, or a clear error when there are none."""
    labels = warehouse.read_labels()
    if labels.height == 0:
        raise ValueError(
            "the warehouse has no labelled vehicle (none has reached the road test): ingest "
            "exports with road-test outcomes and run `roadtest etl` before training"
        )
    knrs = labels.get_column("knr").to_list()
    features = warehouse.read_features(knrs)
    usable = labels.join(features.select("knr"), on="knr", how="semi")
    events = warehouse.read_events(usable.get_column("knr").to_list())
    return TrainingData(usable, features, events, labels.height - usable.height)


def fingerprint(frames: Sequence[pl.DataFrame]) -> str:
    """sha256 of the frames' CSV text: the same rows in the same order give the same value."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(",".join(frame.columns).encode())
        digest.update(frame.write_csv(include_header=False).encode())
    return digest.hexdigest()


def code_version() -> str:
    """The git commit of the source (``-dirty`` with local changes), else the package version."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if commit.returncode == 0:
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=here,
                capture_output=True,
                text=True,
                timeout=10,
            )
            dirty = "-dirty" if status.returncode == 0 and status.stdout.strip() else ""
            return f"git:{commit.stdout.strip()}{dirty}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"roadtest=={importlib.metadata.version('roadtest')}"


def warehouse_lineage(warehouse: Warehouse) -> dict[str, Any]:
    """Which bronze Delta versions and which ETL load the warehouse's data comes from."""
    loads = warehouse.read_table(ETL_RUN.name).filter(pl.col("outcome") == "loaded")
    last = loads.sort("finished_at").tail(1).to_dicts()
    lineage: dict[str, Any] = {
        "warehouse": repr(warehouse),
        "warehouse_schema_version": warehouse.schema_version(),
        "bronze_versions": warehouse.read_etl_state(),
        "etl_run_id": last[0]["run_id"] if last else None,
        "etl_finished_at": last[0]["finished_at"].isoformat() if last else None,
        "etl_bronze_versions": json.loads(last[0]["bronze_versions"]) if last else None,
    }
    return lineage


# --- model fitting ----------------------------------------------------------------


@dataclass(frozen=True)
class _Labelled:
    """Marts and labels of the vehicles of one split window, in the order of ``knrs``."""

    knrs: tuple[str, ...]
    features: pl.DataFrame
    events: pl.DataFrame
    y: np.ndarray
    y_groups: np.ndarray


def _labelled(data: TrainingData, knrs: Sequence[str]) -> _Labelled:
    order = pl.DataFrame({"knr": list(knrs)}, schema={"knr": pl.String})
    labels = order.join(data.labels, on="knr", how="left", maintain_order="left")
    return _Labelled(
        knrs=tuple(knrs),
        features=order.join(data.features, on="knr", how="left", maintain_order="left"),
        events=data.events.join(order, on="knr", how="semi"),
        y=labels.get_column("road_test_failed").cast(pl.Int8).to_numpy(),
        y_groups=labels.select(GROUP_LABEL_COLUMNS).cast(pl.Int8).to_numpy(),
    )


@dataclass(frozen=True)
class _Window:
    """A split window with the model inputs built by the run's feature spec."""

    labelled: _Labelled
    tabular: TabularInputs
    sequences: SequenceInputs | None

    @property
    def y(self) -> np.ndarray:
        """Road-test outcome of each vehicle (1 = failed)."""
        return self.labelled.y

    @property
    def y_groups(self) -> np.ndarray:
        """Failure-group labels [N, G] in ``GROUP_NAMES`` order."""
        return self.labelled.y_groups


def _window(labelled: _Labelled, spec: FeatureSpec, need_sequences: bool) -> _Window:
    features, events = labelled.features, labelled.events
    sequences = (
        build_sequences(events, features, spec.sequence, list(labelled.knrs))
        if need_sequences
        else None
    )
    return _Window(labelled, build_tabular(features, events, spec.tabular), sequences)


@dataclass(frozen=True)
class _Fitted:
    """A fitted model, how to score a window with it, and how to store it."""

    name: str
    score: Callable[[_Window], tuple[np.ndarray, np.ndarray]]
    to_bytes: Callable[[], bytes]
    best_epoch: int | None = None
    epochs: int | None = None


def _fit_baseline(name: str, windows: Sequence[_Window], seed: int) -> _Fitted:
    """A baseline fitted on the vehicles of all ``windows`` together."""
    inputs = TabularInputs(
        np.vstack([w.tabular.features for w in windows]), windows[0].tabular.feature_names
    )
    y = np.concatenate([w.y for w in windows])
    y_groups = np.vstack([w.y_groups for w in windows])
    model = BaselineModel(_BASELINES[name], seed=seed).fit(inputs, y, y_groups)

    def score(window: _Window) -> tuple[np.ndarray, np.ndarray]:
        return model.predict_proba(window.tabular), model.predict_groups(window.tabular)

    return _Fitted(name, score, model.to_bytes)


def _fit_recurrent(
    name: str,
    train: _Window,
    valid: _Window,
    config: RecurrentConfig,
    on_epoch: Callable[[EpochLog], None],
) -> _Fitted:
    assert train.sequences is not None and valid.sequences is not None
    fitted: FittedRecurrent = fit_recurrent(
        train.sequences,
        train.y,
        train.y_groups,
        valid.sequences,
        valid.y,
        valid.y_groups,
        config=replace(config, cell=_CELLS[name]),
        on_epoch=on_epoch,
    )

    def score(window: _Window) -> tuple[np.ndarray, np.ndarray]:
        assert window.sequences is not None
        return fitted.predict(window.sequences)

    return _Fitted(
        name,
        score,
        lambda: export_onnx(fitted),
        best_epoch=fitted.best_epoch,
        epochs=len(fitted.history),
    )


def _evaluate(
    window: _Window, p: np.ndarray, p_groups: np.ndarray, threshold: float, budgets: Sequence[float]
) -> Evaluation:
    return evaluate_scores(
        window.y,
        p,
        threshold,
        y_groups=window.y_groups,
        p_groups=p_groups,
        group_names=GROUP_NAMES,
        budgets=budgets,
    )


def _oracle(truth: pl.DataFrame, valid: _Window, test: _Window, config: TrainConfig) -> Evaluation:
    """The true failure probabilities scored like a model on the test window.

    Its decision threshold is chosen on the validation vehicles' true
    probabilities, as a model's is on its own scores; nothing of the truth
    reaches the models or the features.
    """
    if not {"KNR", "p_fail"} <= set(truth.columns):
        raise ValueError("the truth table needs the columns KNR and p_fail")
    table = truth.select(pl.col("KNR").alias("knr"), pl.col("p_fail").cast(pl.Float64))

    def p_true(window: _Window) -> np.ndarray:
        order = pl.DataFrame({"knr": list(window.labelled.knrs)}, schema={"knr": pl.String})
        joined = order.join(table, on="knr", how="left", maintain_order="left")
        missing = joined.filter(pl.col("p_fail").is_null()).height
        if missing:
            raise ValueError(
                f"the truth table lacks {missing} of the {len(order)} vehicles of a split "
                "window: is it the truth of the plant in this warehouse?"
            )
        return joined.get_column("p_fail").to_numpy()

    threshold = choose_threshold(valid.y, p_true(valid), config.target_recall)
    return evaluate_scores(test.y, p_true(test), threshold, budgets=config.budgets)


# --- the run ----------------------------------------------------------------------


def _check_models(models: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(m.strip().lower() for m in models if m.strip()))
    unknown = [m for m in chosen if m not in MODEL_CHOICES]
    if unknown or not chosen:
        raise ValueError(
            f"unknown model(s) {unknown or list(models)}: choose among {', '.join(MODEL_CHOICES)}"
        )
    return chosen


def _epoch_metrics(log: EpochLog) -> dict[str, float]:
    return {
        "train_loss": log.train_loss,
        "valid_loss": log.valid_loss,
        "valid_pr_auc": log.valid_pr_auc,
    }


def _split_params(split: Split) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, (start, end) in split.windows.items():
        params[f"split.{name}_start"] = start.isoformat()
        params[f"split.{name}_end"] = end.isoformat()
    return params


def _log_models(
    run: RunLogger,
    results: Mapping[str, ModelResult],
    oracle: Evaluation | None,
    comparison: pl.DataFrame,
) -> None:
    for name, result in results.items():
        run.log_metrics({f"test/{name}/{k}": v for k, v in result.test.to_dict().items()})
        run.log_metrics({f"valid/{name}/{k}": v for k, v in result.valid.to_dict().items()})
    if oracle is not None:
        run.log_metrics({f"test/{ORACLE_NAME}/{k}": v for k, v in oracle.to_dict().items()})
        gaps = [c for c in comparison.columns if c.endswith("_gap")]
        for row in comparison.filter(pl.col("model") != ORACLE_NAME).iter_rows(named=True):
            run.log_metrics({f"gap/{row['model']}/{c[:-4]}": row[c] for c in gaps})


def _evaluate_version(
    registry: Registry, version: str, window: _Labelled, budgets: Sequence[float]
) -> Evaluation:
    """A registered version's evaluation on ``window``, at the version's own threshold."""
    model = load_version(registry, version)
    p, p_groups = model.score(window.features, window.events)
    if model.group_names != GROUP_NAMES:
        return evaluate_scores(window.y, p, model.threshold, budgets=budgets)
    return evaluate_scores(
        window.y,
        p,
        model.threshold,
        y_groups=window.y_groups,
        p_groups=p_groups,
        group_names=GROUP_NAMES,
        budgets=budgets,
    )


def compare_versions(
    warehouse: Warehouse,
    registry: Registry,
    versions: Sequence[str] = (),
    config: TrainConfig | None = None,
) -> tuple[tuple[datetime, datetime], pl.DataFrame]:
    """Registered versions (all by default) scored side by side on the newest test window.

    Each version's own test metrics were measured on the window of its run;
    this scores them all on the same, current vehicles, so the rows compare.
    Returns the window (first, last road-test start) and one row per version.
    """
    config = config or TrainConfig()
    known = {v.version: v for v in registry.list_versions()}
    wanted = list(versions) or list(known)
    if not wanted:
        raise ValueError("the registry holds no model version yet: run `roadtest train`")
    for version in wanted:
        registry.version_info(version)
    data = read_training_data(warehouse)
    split = time_split(data.labels, config.valid_fraction, config.test_fraction)
    test = _labelled(data, split.test_knrs)
    evaluations = {f"v{v}": _evaluate_version(registry, v, test, config.budgets) for v in wanted}
    champion = registry.get_champion()
    table = compare(evaluations).with_columns(
        version=pl.Series(wanted, dtype=pl.String),
        kind=pl.Series([known[v].tags.get("model_kind", "") for v in wanted], dtype=pl.String),
        champion=pl.Series([champion is not None and v == champion.version for v in wanted]),
    )
    first = ["version", "kind", "champion"]
    return split.windows["test"], table.select(*first, pl.exclude(*first, "model"))


@dataclass(frozen=True)
class _Prepared:
    """The run's data, its lineage, the split, the fitted feature spec and the windows."""

    lineage: dict[str, Any]
    split: Split
    spec: FeatureSpec
    windows: dict[str, _Window]
    counts: dict[str, int]


def _prepare(
    warehouse: Warehouse, chosen: Sequence[str], config: TrainConfig, progress: Progress
) -> _Prepared:
    """Read, fingerprint and split the data; fit features on the training window only."""
    progress.start("read warehouse", total=None)
    data = read_training_data(warehouse)
    lineage = warehouse_lineage(warehouse)
    lineage["data_fingerprint"] = fingerprint([data.labels, data.features, data.events])
    lineage["code_version"] = code_version()
    split = time_split(data.labels, config.valid_fraction, config.test_fraction)
    progress.finish("read warehouse")
    progress.start("build features", total=3)
    train_order = pl.DataFrame({"knr": list(split.train_knrs)}, schema={"knr": pl.String})
    train_features = data.features.join(train_order, on="knr", how="semi")
    train_events = data.events.join(train_order, on="knr", how="semi")
    spec = fit_feature_spec(train_features, train_events, config.tabular, config.sequence)
    need_sequences = bool(RECURRENT_MODELS & set(chosen))
    windows: dict[str, _Window] = {}
    for name, knrs in zip(
        ("train", "valid", "test"),
        (split.train_knrs, split.valid_knrs, split.test_knrs),
        strict=True,
    ):
        windows[name] = _window(_labelled(data, knrs), spec, need_sequences)
        progress.advance("build features")
    progress.finish("build features")
    counts = {
        "labelled_vehicles": data.labels.height,
        "labelled_without_features": data.labelled_without_features,
        "event_rows": data.events.height,
        **{f"{name}_vehicles": len(w.labelled.knrs) for name, w in windows.items()},
        **{f"{name}_failed": int(w.y.sum()) for name, w in windows.items()},
    }
    return _Prepared(lineage, split, spec, windows, counts)


def _fit_and_evaluate(
    name: str,
    prepared: _Prepared,
    config: TrainConfig,
    run: RunLogger,
    progress: Progress,
    on_epoch: EpochCallback | None,
) -> tuple[_Fitted, ModelResult]:
    """Fit one model, pick its threshold on validation, evaluate it on validation and test.

    With ``config.refit_baselines`` a baseline is refitted on training + validation
    after its threshold is chosen, and that refit is what the test measures and
    the registry stores.
    """
    train_w, valid_w, test_w = (prepared.windows[n] for n in ("train", "valid", "test"))
    step = f"train {name}"
    if name in RECURRENT_MODELS:
        progress.start(step, total=config.recurrent.max_epochs)

        def epoch_done(log: EpochLog) -> None:
            metrics = {f"epoch/{name}/{k}": v for k, v in _epoch_metrics(log).items()}
            run.log_metrics(metrics, step=log.epoch)
            progress.advance(step)
            if on_epoch is not None:
                on_epoch(name, log)

        model = _fit_recurrent(name, train_w, valid_w, config.recurrent, epoch_done)
    else:
        progress.start(step, total=2 if config.refit_baselines else 1)
        model = _fit_baseline(name, [train_w], config.seed)
        progress.advance(step)
    p_valid, g_valid = model.score(valid_w)
    threshold = choose_threshold(valid_w.y, p_valid, config.target_recall)
    if name not in RECURRENT_MODELS and config.refit_baselines:
        model = _fit_baseline(name, [train_w, valid_w], config.seed)
        progress.advance(step)
    progress.finish(step)
    p_test, g_test = model.score(test_w)
    result = ModelResult(
        name=name,
        threshold=threshold,
        valid=_evaluate(valid_w, p_valid, g_valid, threshold, config.budgets),
        test=_evaluate(test_w, p_test, g_test, threshold, config.budgets),
        best_epoch=model.best_epoch,
        epochs=model.epochs,
    )
    return model, result


def _log_artifacts(
    run: RunLogger,
    prepared: _Prepared,
    results: Mapping[str, ModelResult],
    best: _Fitted,
    oracle: Evaluation | None,
    comparison: pl.DataFrame,
) -> None:
    """Report, comparison table, feature spec, lineage and the model folder, into the run."""
    lineage, windows = prepared.lineage, prepared.split.windows
    evaluations = {n: r.test for n, r in results.items()}
    if oracle is not None:
        evaluations[ORACLE_NAME] = oracle
    report_info = {
        "run id": run.run_id,
        **{f"{k} window": f"{a} → {b}" for k, (a, b) in windows.items()},
        **prepared.counts,
        "registered model": best.name,
        "code version": lineage["code_version"],
        "data fingerprint": lineage["data_fingerprint"],
        "bronze versions": json.dumps(lineage["bronze_versions"], sort_keys=True),
    }
    stored = StoredModel(
        kind=best.name,
        model_bytes=best.to_bytes(),
        feature_spec_json=prepared.spec.to_json(),
        threshold=results[best.name].threshold,
        group_names=GROUP_NAMES,
        metadata={
            "run_id": run.run_id,
            "test_window": _window_dict(windows["test"]),
            "test_metrics": _metrics_dict(results[best.name].test),
            "code_version": lineage["code_version"],
            "data_fingerprint": lineage["data_fingerprint"],
        },
    )
    with tempfile.TemporaryDirectory(prefix="roadtest-run-") as tmp:
        folder = Path(tmp)
        render_report(report_info, evaluations, comparison, folder / "report")
        comparison.write_csv(folder / "report" / "comparison.csv")
        (folder / "features").mkdir()
        (folder / "features" / "feature_spec.json").write_text(prepared.spec.to_json(), "utf-8")
        (folder / "lineage").mkdir()
        (folder / "lineage" / "lineage.json").write_text(
            json.dumps(lineage, indent=2, default=str), "utf-8"
        )
        write_model_folder(folder / MODEL_ARTIFACT_PATH, stored)
        for sub in ("report", "features", "lineage", MODEL_ARTIFACT_PATH):
            run.log_artifacts(folder / sub, sub)


def train(
    warehouse: Warehouse,
    registry: Registry,
    models: Sequence[str] = DEFAULT_MODELS,
    config: TrainConfig | None = None,
    truth: pl.DataFrame | None = None,
    progress: Progress = NO_PROGRESS,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train, evaluate, log, register and maybe promote (see the module docstring).

    ``models``: names among ``MODEL_CHOICES``. ``truth``: the simulator's truth
    table (KNR, p_fail), read only to evaluate the oracle on the test window.
    ``on_epoch(model, log)`` receives each epoch of a recurrent model as it ends.
    """
    config = config or TrainConfig()
    chosen = _check_models(models)
    prepared = _prepare(warehouse, chosen, config, progress)
    split = prepared.split
    valid_w, test_w = prepared.windows["valid"], prepared.windows["test"]
    oracle = None if truth is None else _oracle(truth, valid_w, test_w, config)
    with registry.open_run(f"train {','.join(chosen)}", tags={"models": ",".join(chosen)}) as run:
        run.log_params({"models": ",".join(chosen), **config.to_params(), **_split_params(split)})
        run.log_params({f"data.{k}": v for k, v in prepared.counts.items()})
        run.log_params(_lineage_params(prepared.lineage))
        fitted: dict[str, _Fitted] = {}
        results: dict[str, ModelResult] = {}
        for name in chosen:
            fitted[name], results[name] = _fit_and_evaluate(
                name, prepared, config, run, progress, on_epoch
            )
        progress.start("evaluate and log", total=None)
        comparison = compare({n: r.test for n, r in results.items()}, oracle)
        best = max(results.values(), key=lambda r: _rank_value(r.valid.pr_auc)).name
        _log_models(run, results, oracle, comparison)
        _log_artifacts(run, prepared, results, fitted[best], oracle, comparison)
        progress.finish("evaluate and log")
        progress.start("register and promote", total=None)
        outcome = _register_and_promote(
            registry, warehouse, run, results[best], split, test_w, config
        )
        progress.finish("register and promote")
    return TrainResult(
        run_id=run.run_id,
        windows=split.windows,
        counts=prepared.counts,
        models=results,
        best_model=best,
        registered_version=outcome.version,
        decision=outcome.decision,
        previous_champion=outcome.previous_champion,
        lineage=prepared.lineage,
        oracle=oracle,
        champion_on_test=outcome.champion_on_test,
    )


def _rank_value(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _lineage_params(lineage: Mapping[str, Any]) -> dict[str, Any]:
    params = {
        f"lineage.bronze_version.{table}": version
        for table, version in lineage["bronze_versions"].items()
    }
    for key in (
        "warehouse",
        "warehouse_schema_version",
        "etl_run_id",
        "etl_finished_at",
        "data_fingerprint",
        "code_version",
    ):
        params[f"lineage.{key}"] = lineage[key]
    return params


@dataclass(frozen=True)
class _Outcome:
    """The registered version and what the promotion rule made of it."""

    version: str
    decision: PromotionDecision
    previous_champion: str | None
    champion_on_test: Evaluation | None


def _register_and_promote(
    registry: Registry,
    warehouse: Warehouse,
    run: RunLogger,
    best: ModelResult,
    split: Split,
    test: _Window,
    config: TrainConfig,
) -> _Outcome:
    """Register the run's model, judge it against the champion, record the outcome."""
    champion = registry.get_champion()
    budget_metric = f"recall_at_{budget_label(config.promotion.budget)}"
    version = registry.register_version(
        run.run_id,
        tags={
            "model_kind": best.name,
            "test_window_start": split.windows["test"][0].isoformat(),
            "test_window_end": split.windows["test"][1].isoformat(),
            "test_pr_auc": f"{best.test.pr_auc:.6f}",
            "test_roc_auc": f"{best.test.roc_auc:.6f}",
            f"test_{budget_metric}": f"{recall_at(best.test, config.promotion.budget):.6f}",
        },
    ).version
    champion_eval: Evaluation | None = None
    if champion is None:
        decision = decide_promotion(best.test, None, config.promotion)
    else:
        try:
            champion_eval = _evaluate_version(
                registry, champion.version, test.labelled, config.budgets
            )
        except (ValueError, RuntimeError) as error:
            decision = PromotionDecision(
                False,
                f"the champion (version {champion.version}) could not be scored on the test "
                f"window, so nothing was compared: {error}",
                best.test.pr_auc,
                recall_at(best.test, config.promotion.budget),
            )
        else:
            decision = decide_promotion(best.test, champion_eval, config.promotion)
            prefix = f"test/champion_v{champion.version}"
            run.log_metrics({f"{prefix}/{k}": v for k, v in champion_eval.to_dict().items()})
    if decision.promote:
        activate_version(registry, warehouse, version)
    status = "champion" if decision.promote else "challenger"
    registry.set_version_tags(version, {"promotion": status, "promotion_reason": decision.reason})
    run.set_tags(
        {
            "registered_version": version,
            "promotion": status,
            "promotion_reason": decision.reason,
            "previous_champion": "" if champion is None else champion.version,
        }
    )
    previous = None if champion is None else champion.version
    return _Outcome(version, decision, previous, champion_eval)
