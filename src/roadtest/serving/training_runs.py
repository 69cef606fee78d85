"""Training runs started through the API: kept in the warehouse, run by the API or the worker.

``POST /v1/training-runs`` adds a row to the warehouse's ``training_runs``
table (``warehouse.training_runs``); ``ROADTEST_TRAINING_RUNNER`` says who runs it:

* ``api``: the API process that took the request claims the row at once and
  trains in a background thread, recording progress and outcome in the row
  (what ``roadtest demo`` uses: no orchestrator needed);
* ``worker``: the row stays queued until the orchestrator's training-queue
  sensor claims it and starts ``retrain_job`` (the API image has no torch).

GET reads the row, so every API process answers for every run, also after a
restart. A second start while a run is active answers 409: two runs would
compete for the same cores and could both try to promote.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal

from roadtest.progress import Progress
from roadtest.serving.errors import ApiError
from roadtest.serving.schemas import TrainingRunRequest
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse
from roadtest.warehouse.training_runs import (
    ActiveRunError,
    Outcome,
    TrainingRunRow,
    enqueue_run,
    heartbeat_interval,
    read_run,
    run_recorded,
)

if TYPE_CHECKING:
    from roadtest.training.pipeline import TrainResult

logger = logging.getLogger("roadtest.api")

API_RUNNER: Final = "api"
"""The ``runner`` of a run an API process trains itself."""

TrainFunction = Callable[[Progress], Outcome]
"""Runs one training with the given progress sink (the app binds the rest of the arguments)."""


class TrainingRuns:
    """Starts runs (queues them, or trains them in a thread) and answers their status."""

    def __init__(
        self,
        warehouse: Warehouse,
        runner: Literal["api", "worker"],
        stale_after_s: float,
        on_success: Callable[[], object],
    ) -> None:
        self._warehouse = warehouse
        self._runner = runner
        self._stale_after_s = stale_after_s
        self._on_success = on_success

    def start(self, request: TrainingRunRequest, train: TrainFunction) -> TrainingRunRow:
        """Record the run (queued for the worker, or running here); 409 while another is active."""
        trains_here = self._runner == "api"
        try:
            row = enqueue_run(
                self._warehouse,
                request.model_dump(mode="json"),
                stale_after_s=self._stale_after_s,
                runner=API_RUNNER if trains_here else None,
            )
        except ActiveRunError as error:
            raise ApiError(409, str(error)) from error
        if trains_here:
            threading.Thread(
                target=self._run, args=(row.id, train), name="training-run", daemon=True
            ).start()
        return row

    def get(self, run_id: str) -> TrainingRunRow:
        """The run as the warehouse holds it (marked failed first if it is lost), or 404."""
        row = read_run(self._warehouse, run_id, stale_after_s=self._stale_after_s)
        if row is None:
            raise ApiError(
                404,
                f"No training run {run_id} is recorded in the warehouse; start one with "
                "POST /v1/training-runs.",
            )
        return row

    def _run(self, run_id: str, train: TrainFunction) -> None:
        try:
            run_recorded(self._warehouse, run_id, train, heartbeat_interval(self._stale_after_s))
        except Exception:
            logger.exception("training run failed", extra={"training_run": run_id})
            return
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
        from roadtest.training.pipeline import DEFAULT_MODELS, TrainConfig, train
    except ImportError as error:
        raise RuntimeError(
            f"this API's installation cannot train ({error}): it lacks roadtest's train extra "
            "(torch), which the API image leaves out; train in the worker instead: set "
            "ROADTEST_TRAINING_RUNNER=worker for the API and the orchestrator, or run "
            "`roadtest train` there; or install roadtest[train] where this API runs"
        ) from error
    config = TrainConfig.seeded(request.seed, request.max_epochs)
    models = request.models or list(DEFAULT_MODELS)
    return train(warehouse, registry, models, config, progress=progress)
