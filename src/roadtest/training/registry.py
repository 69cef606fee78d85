"""MLflow behind a small interface: training runs, the registered model, the champion alias.

Everything else in roadtest talks to ``Registry`` and never to MLflow, so the
store (a sqlite file under ``ROADTEST_HOME`` by default, or a tracking server)
is one URL in the settings, and tests run against the real MLflow on a
throw-away sqlite file.

A registered version is a folder of plain files (see ``write_model_folder``):
the model itself, the feature spec it was trained with, and ``model.json``
with its decision threshold and failure-group names. Recurrent models are
stored as ONNX, so serving needs neither torch nor pickle for them. Baselines
are stored as the bytes of ``BaselineModel.to_bytes``, which is a pickle: that
is acceptable only because the registry holds nothing but folders this
project's own training wrote; never register a folder from elsewhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
)

from roadtest.config import Settings

MODEL_NAME: Final = "roadtest"
"""The one registered model every training run adds a version to."""

EXPERIMENT_NAME: Final = "roadtest"
CHAMPION_ALIAS: Final = "champion"
MODEL_ARTIFACT_PATH: Final = "model"
"""Where a run stores the folder that gets registered."""

FOLDER_FORMAT: Final = "roadtest.model-folder/1"
MODEL_CARD_FILE: Final = "model.json"
FEATURE_SPEC_FILE: Final = "feature_spec.json"
ONNX_FILE: Final = "model.onnx"
BASELINE_FILE: Final = "baseline.pkl"
RECURRENT_KINDS: Final = frozenset({"gru", "lstm"})

ParamValue = str | int | float | bool | None


class RegistryError(RuntimeError):
    """The registry cannot do what was asked (unknown version, unreadable folder, …)."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered version of the ``roadtest`` model."""

    version: str
    run_id: str
    created_at: datetime
    aliases: tuple[str, ...]
    tags: Mapping[str, str]

    @property
    def is_champion(self) -> bool:
        """This version holds the ``champion`` alias."""
        return CHAMPION_ALIAS in self.aliases

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``roadtest models list --json``."""
        return {
            "version": self.version,
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
            "champion": self.is_champion,
            "aliases": list(self.aliases),
            "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class VersionDetails:
    """A version with the parameters, metrics and tags of the run that produced it."""

    info: VersionInfo
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    run_tags: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``roadtest models show --json`` (NaN metrics become null)."""
        return {
            **self.info.to_dict(),
            "params": dict(self.params),
            "metrics": {k: None if math.isnan(v) else v for k, v in self.metrics.items()},
            "run_tags": dict(self.run_tags),
        }


@dataclass(frozen=True)
class StoredModel:
    """The content of a registered model folder."""

    kind: str
    model_bytes: bytes
    feature_spec_json: str
    threshold: float
    group_names: tuple[str, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_recurrent(self) -> bool:
        """A GRU/LSTM stored as ONNX (else a baseline stored as its own bytes)."""
        return self.kind in RECURRENT_KINDS


def _model_file(kind: str) -> str:
    return ONNX_FILE if kind in RECURRENT_KINDS else BASELINE_FILE


def write_model_folder(folder: Path, model: StoredModel) -> Path:
    """Write ``model`` as the registered folder layout into ``folder``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _model_file(model.kind)).write_bytes(model.model_bytes)
    (folder / FEATURE_SPEC_FILE).write_text(model.feature_spec_json, encoding="utf-8")
    card = {
        "format": FOLDER_FORMAT,
        "kind": model.kind,
        "model_file": _model_file(model.kind),
        "threshold": model.threshold,
        "group_names": list(model.group_names),
        "metadata": dict(model.metadata),
    }
    (folder / MODEL_CARD_FILE).write_text(json.dumps(card, indent=2, default=str), "utf-8")
    return folder


def read_model_folder(folder: Path) -> StoredModel:
    """The model stored in ``folder`` by ``write_model_folder``, or a clear error."""
    card_path = folder / MODEL_CARD_FILE
    if not card_path.is_file():
        raise RegistryError(f"{folder} is not a roadtest model folder: {MODEL_CARD_FILE} missing")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if card.get("format") != FOLDER_FORMAT:
        raise RegistryError(
            f"{folder} holds model format {card.get('format')!r}; this roadtest reads "
            f"{FOLDER_FORMAT!r}"
        )
    model_path = folder / card["model_file"]
    spec_path = folder / FEATURE_SPEC_FILE
    for path in (model_path, spec_path):
        if not path.is_file():
            raise RegistryError(f"the model folder {folder} lacks {path.name}")
    return StoredModel(
        kind=card["kind"],
        model_bytes=model_path.read_bytes(),
        feature_spec_json=spec_path.read_text(encoding="utf-8"),
        threshold=float(card["threshold"]),
        group_names=tuple(card["group_names"]),
        metadata=card.get("metadata", {}),
    )


def _sqlite_artifact_root(tracking_uri: str) -> str | None:
    """Artifacts of a sqlite store live next to its file (MLflow would use the working dir)."""
    if not tracking_uri.startswith("sqlite:"):
        return None
    database = sa.make_url(tracking_uri).database
    if not database or database == ":memory:":
        return None
    return (Path(database).expanduser().resolve().parent / "mlartifacts").as_uri()


def _param_text(value: ParamValue) -> str:
    text = "" if value is None else str(value)
    if len(text) > MAX_PARAM_VAL_LENGTH:
        raise ValueError(
            f"a run parameter of {len(text)} characters exceeds MLflow's {MAX_PARAM_VAL_LENGTH}; "
            "log it as an artifact instead"
        )
    return text


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _millis(moment: datetime | None = None) -> int:
    return int((moment or datetime.now(UTC)).timestamp() * 1000)


class RunLogger:
    """Writes to one open MLflow run (see ``Registry.open_run``)."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self._client = client
        self.run_id = run_id

    def log_params(self, params: Mapping[str, ParamValue]) -> None:
        """Run parameters (each key once per run; values become text)."""
        entries = [Param(key, _param_text(value)) for key, value in params.items()]
        for chunk in _chunks(entries, MAX_PARAMS_TAGS_PER_BATCH):
            self._client.log_batch(self.run_id, params=chunk)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Metrics at ``step`` (epoch curves use the epoch as step)."""
        now = _millis()
        entries = [Metric(key, float(value), now, step) for key, value in metrics.items()]
        for chunk in _chunks(entries, MAX_METRICS_PER_BATCH):
            self._client.log_batch(self.run_id, metrics=chunk)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Run tags (searchable text, overwritable)."""
        entries = [RunTag(key, str(value)) for key, value in tags.items()]
        for chunk in _chunks(entries, MAX_PARAMS_TAGS_PER_BATCH):
            self._client.log_batch(self.run_id, tags=chunk)

    def log_artifacts(self, local_dir: Path, artifact_path: str | None = None) -> None:
        """Copy a local folder into the run's artifacts."""
        self._client.log_artifacts(self.run_id, str(local_dir), artifact_path)


@dataclass(frozen=True)
class RunRecord:
    """Everything one finished run logs, for ``Registry.log_run``."""

    name: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    artifacts: Mapping[str, Path] = field(default_factory=dict)
    """Artifact folder in the run → local folder to copy there."""


class Registry:
    """The MLflow tracking store and model registry of one roadtest install."""

    def __init__(
        self,
        tracking_uri: str,
        model_name: str = MODEL_NAME,
        experiment_name: str = EXPERIMENT_NAME,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.experiment_name = experiment_name
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """The registry the settings point at (a sqlite file under HOME by default)."""
        uri = settings.resolved_mlflow_tracking_uri()
        if uri.startswith("sqlite:"):
            database = sa.make_url(uri).database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return cls(uri)

    def __repr__(self) -> str:
        return f"Registry({self.tracking_uri!r}, model={self.model_name!r})"

    def _experiment_id(self) -> str:
        experiment = self._client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return str(experiment.experiment_id)
        return str(
            self._client.create_experiment(
                self.experiment_name, artifact_location=_sqlite_artifact_root(self.tracking_uri)
            )
        )

    @contextmanager
    def open_run(self, name: str, tags: Mapping[str, str] | None = None) -> Iterator[RunLogger]:
        """A run that ends FINISHED when the block completes and FAILED if it raises."""
        run = self._client.create_run(self._experiment_id(), run_name=name, tags=dict(tags or {}))
        logger = RunLogger(self._client, run.info.run_id)
        try:
            yield logger
        except BaseException:
            self._client.set_terminated(logger.run_id, status="FAILED")
            raise
        self._client.set_terminated(logger.run_id, status="FINISHED")

    def log_run(self, record: RunRecord) -> str:
        """Log a finished run in one go; returns its run id."""
        with self.open_run(record.name, record.tags) as run:
            run.log_params(record.params)
            run.log_metrics(record.metrics)
            for artifact_path, local_dir in record.artifacts.items():
                run.log_artifacts(local_dir, artifact_path)
        return run.run_id

    def register_version(
        self,
        run_id: str,
        artifact_path: str = MODEL_ARTIFACT_PATH,
        tags: Mapping[str, str] | None = None,
    ) -> VersionInfo:
        """Register the run's model folder as a new version of the model."""
        if not self._model_exists():
            self._client.create_registered_model(
                self.model_name,
                description="P(vehicle fails the road test) and its likely failure groups.",
            )
        run = self._client.get_run(run_id)
        source = f"{run.info.artifact_uri.rstrip('/')}/{artifact_path}"
        created = self._client.create_model_version(
            self.model_name,
            source,
            run_id=run_id,
            tags={"artifact_path": artifact_path, **dict(tags or {})},
        )
        return self._info(created)

    def set_version_tags(self, version: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags of a registered version (e.g. why it was not promoted)."""
        self._require_version(version)
        for key, value in tags.items():
            self._client.set_model_version_tag(self.model_name, version, key, str(value))

    def set_champion(self, version: str) -> None:
        """Move the ``champion`` alias to ``version``."""
        self._require_version(version)
        self._client.set_registered_model_alias(self.model_name, CHAMPION_ALIAS, version)

    def clear_champion(self) -> None:
        """Remove the ``champion`` alias (only to undo a promotion that could not be recorded)."""
        if self.get_champion() is not None:
            self._client.delete_registered_model_alias(self.model_name, CHAMPION_ALIAS)

    def get_champion(self) -> VersionInfo | None:
        """The version holding the ``champion`` alias, or None before the first promotion."""
        if not self._model_exists():
            return None
        aliases = self._client.get_registered_model(self.model_name).aliases
        version = aliases.get(CHAMPION_ALIAS)
        return None if version is None else self.version_info(str(version))

    def list_versions(self) -> list[VersionInfo]:
        """Every registered version, oldest first."""
        if not self._model_exists():
            return []
        aliases = self._aliases_by_version()
        found = self._client.search_model_versions(f"name = '{self.model_name}'")
        infos = [self._info(v, aliases.get(str(v.version), ())) for v in found]
        return sorted(infos, key=lambda info: int(info.version))

    def version_info(self, version: str) -> VersionInfo:
        """One registered version, or a RegistryError naming the versions that exist."""
        try:
            found = self._client.get_model_version(self.model_name, str(version))
        except MlflowException as error:
            known = [v.version for v in self.list_versions()]
            raise RegistryError(
                f"model {self.model_name!r} has no version {version!r}; versions: {known or 'none'}"
            ) from error
        return self._info(found, self._aliases_by_version().get(str(found.version), ()))

    def version_details(self, version: str) -> VersionDetails:
        """A version with its run's parameters, metrics and tags."""
        info = self.version_info(version)
        run = self._client.get_run(info.run_id)
        return VersionDetails(
            info=info,
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
            run_tags={k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        )

    def download_version(self, version: str, dst: Path) -> Path:
        """Copy the version's model folder into ``dst``; returns the local folder."""
        info = self.version_info(version)
        dst.mkdir(parents=True, exist_ok=True)
        path = info.tags.get("artifact_path", MODEL_ARTIFACT_PATH)
        return Path(self._client.download_artifacts(info.run_id, path, str(dst)))

    def _model_exists(self) -> bool:
        found = self._client.search_registered_models(f"name = '{self.model_name}'")
        return len(found) > 0

    def _require_version(self, version: str) -> None:
        self.version_info(version)

    def _aliases_by_version(self) -> dict[str, tuple[str, ...]]:
        aliases = self._client.get_registered_model(self.model_name).aliases
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        return {version: tuple(sorted(names)) for version, names in by_version.items()}

    def _info(self, version: Any, aliases: Sequence[str] | None = None) -> VersionInfo:
        return VersionInfo(
            version=str(version.version),
            run_id=str(version.run_id),
            created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC),
            aliases=tuple(aliases if aliases is not None else version.aliases or ()),
            tags=dict(version.tags or {}),
        )
