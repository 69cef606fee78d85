"""Training runs started through the API: one at a time, in a background thread.

The run itself is ``training.pipeline.train``; this module only starts it,
follows its progress steps and keeps its outcome in memory (the MLflow run
keeps everything else for good). A second start while a run is going answers
409, because two runs would compete for the same two cores and could both try
to promote.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from roadtest.progress import Progress
from roadtest.serving.errors import ApiError
from roadtest.serving.schemas import TrainingRunRequest
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse

if TYPE_CHECKING:
    from roadtest.training.pipeline import TrainResult

logger = logging.getLogger("roadtest.api")

State = Literal["running", "succeeded", "failed"]


class Outcome(Protocol):
    """What the API keeps of a finished run (``training.pipeline.TrainResult``)."""

    @property
    def run_id(self) -> str:
        """MLflow run id."""

    @property
    def registered_version(self) -> str:
        """Version registered by the run."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""


TrainFunction = Callable[[Progress], Outcome]
"""Runs one training with the given progress sink (the app binds the rest of the arguments)."""


@dataclass
class StepState:
    """Progress of one named step."""

    done: int = 0
    total: int | None = None
    finished: bool = False


@dataclass
class RunRecord:
    """Everything known about one run."""

    id: str
    started_at: datetime
    state: State = "running"
    finished_at: datetime | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    mlflow_run_id: str | None = None
    model_version: str | None = None
    error: str | None = None


class RunProgress:
    """The ``Progress`` sink of one run: records each step's count (thread-safe)."""

    def __init__(self, record: RunRecord, lock: threading.Lock) -> None:
        self._record = record
        self._lock = lock

    def start(self, step: str, total: int | None = None) -> None:
        """A step begins."""
        with self._lock:
            self._record.steps[step] = StepState(total=total)

    def advance(self, step: str, amount: int = 1) -> None:
        """A step moved on."""
        with self._lock:
            self._record.steps.setdefault(step, StepState()).done += amount

    def finish(self, step: str) -> None:
        """A step is complete."""
        with self._lock:
            state = self._record.steps.setdefault(step, StepState())
            state.finished = True
            if state.total is not None:
                state.done = state.total


class TrainingRuns:
    """Starts runs in a background thread and answers their status."""

    def __init__(self, on_success: Callable[[], object]) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._lock = threading.Lock()
        self._on_success = on_success

    def start(self, train: TrainFunction) -> RunRecord:
        """Start a run; 409 while another one is running."""
        with self._lock:
            if any(run.state == "running" for run in self._runs.values()):
                raise ApiError(
                    409,
                    "A training run is already in progress; wait for it to finish "
                    "(GET /v1/training-runs/{id}) before starting another.",
                )
            record = RunRecord(id=uuid.uuid4().hex, started_at=datetime.now(UTC))
            self._runs[record.id] = record
            progress = RunProgress(record, self._lock)
            threading.Thread(
                target=self._run, args=(record, train, progress), name="training-run", daemon=True
            ).start()
        return self.get(record.id)

    def get(self, run_id: str) -> RunRecord:
        """A snapshot of the run, or 404."""
        with self._lock:
            record = self._runs.get(run_id)
            if record is None:
                raise ApiError(
                    404,
                    f"No training run {run_id} is known to this API process; runs are kept "
                    "in memory until it restarts (MLflow keeps every finished run).",
                )
            return RunRecord(
                id=record.id,
                started_at=record.started_at,
                state=record.state,
                finished_at=record.finished_at,
                steps={k: StepState(v.done, v.total, v.finished) for k, v in record.steps.items()},
                result=record.result,
                mlflow_run_id=record.mlflow_run_id,
                model_version=record.model_version,
                error=record.error,
            )

    def _run(self, record: RunRecord, train: TrainFunction, progress: RunProgress) -> None:
        try:
            result = train(progress)
        except Exception as error:
            logger.exception("training run failed", extra={"training_run": record.id})
            with self._lock:
                record.state = "failed"
                record.error = str(error)
                record.finished_at = datetime.now(UTC)
            return
        with self._lock:
            record.state = "succeeded"
            record.result = result.to_dict()
            record.mlflow_run_id = result.run_id
            record.model_version = result.registered_version
            record.finished_at = datetime.now(UTC)
        self._on_success()


def run_pipeline(
    warehouse: Warehouse, registry: Registry, request: TrainingRunRequest, progress: Progress
) -> TrainResult:
    """Run ``training.pipeline.train`` as asked.

    The pipeline (and torch with it) is imported here, when a run starts, so an
    API that never trains never loads torch, and an install without the
    ``train`` extra (the API image) says so in the run's error instead of
    failing to start.
    """
    try:
        from roadtest.models.recurrent import RecurrentConfig
        from roadtest.training.pipeline import DEFAULT_MODELS, TrainConfig, train
    except ImportError as error:
        raise RuntimeError(
            f"this API's installation cannot train ({error}): it lacks roadtest's train extra "
            "(torch), which the API image leaves out; train in the worker instead "
            "(`roadtest train` there, or the orchestrator's retraining job), or install "
            "roadtest[train] where this API runs"
        ) from error
    recurrent = RecurrentConfig(seed=request.seed)
    if request.max_epochs is not None:
        recurrent = replace(recurrent, max_epochs=request.max_epochs)
    config = TrainConfig(recurrent=recurrent, seed=request.seed)
    models = request.models or list(DEFAULT_MODELS)
    return train(warehouse, registry, models, config, progress=progress)
