"""The worker's side of API training runs: recording in the row, and failed runs marked failed."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from roadtest.orchestration.assets import TRAINING_RUN_TAG, TRIGGER_RUN_TAG, recorded_training
from roadtest.orchestration.definitions import build_definitions
from roadtest.orchestration.sensors import DAGSTER_RUNNER, failure_alert_sensor
from roadtest.progress import NO_PROGRESS, Progress
from roadtest.warehouse import Warehouse
from roadtest.warehouse.training_runs import (
    StepState,
    TrainingRunRow,
    claim_next_run,
    enqueue_run,
    read_run,
)
from tests.integration.test_orchestration import TRAIN_LOGREG, failure_context, settings_for
from tests.integration.test_training_queue import FakeOutcome

STALE_S = 600.0


def claimed_run(warehouse: Warehouse) -> TrainingRunRow:
    """A run queued through the API and claimed by the orchestrator."""
    enqueue_run(warehouse, {"models": ["logreg"]}, stale_after_s=STALE_S)
    claimed = claim_next_run(warehouse, DAGSTER_RUNNER, stale_after_s=STALE_S)
    assert claimed is not None
    return claimed


def current(warehouse: Warehouse, run_id: str) -> TrainingRunRow:
    row = read_run(warehouse, run_id, stale_after_s=STALE_S)
    assert row is not None
    return row


def test_training_for_an_api_run_records_progress_and_outcome(warehouse: Warehouse) -> None:
    run = claimed_run(warehouse)

    def work(progress: Progress) -> FakeOutcome:
        progress.start("train logreg", total=3)
        progress.advance("train logreg", 3)
        progress.finish("train logreg")
        return FakeOutcome()

    assert recorded_training(warehouse, run.id, STALE_S, work) == FakeOutcome()
    done = current(warehouse, run.id)
    assert (done.state, done.runner, done.model_version) == ("succeeded", "dagster", "4")
    assert done.steps == {"train logreg": StepState(3, 3, True)}


def test_training_without_an_api_run_records_nothing(warehouse: Warehouse) -> None:
    run = claimed_run(warehouse)
    given: list[Progress] = []

    def work(progress: Progress) -> FakeOutcome:
        given.append(progress)
        return FakeOutcome()

    recorded_training(warehouse, None, STALE_S, work)
    assert given == [NO_PROGRESS]
    assert current(warehouse, run.id).state == "running"


@pytest.mark.slow
def test_a_failed_retraining_fails_its_training_run(tmp_path: Path) -> None:
    """trained_model records its own failure; the failure sensor fails a run it never reached."""
    settings = settings_for(tmp_path, tmp_path / "landing")
    warehouse = Warehouse.from_settings(settings)
    warehouse.migrate()
    run = claimed_run(warehouse)
    job = build_definitions(settings).resolve_job_def("retrain_job")
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=TRAIN_LOGREG,
        tags={TRAINING_RUN_TAG: run.id, TRIGGER_RUN_TAG: "api"},
    )
    assert not result.success
    failed = current(warehouse, run.id)
    assert failed.state == "failed"
    assert failed.error is not None and "no labelled vehicle" in failed.error

    sensor = failure_alert_sensor(settings)
    sensor(failure_context(instance, result))
    assert current(warehouse, run.id).error == failed.error

    unreached = claimed_run(warehouse)
    tagged = result.dagster_run.with_tags({TRAINING_RUN_TAG: unreached.id})
    context = dg.build_run_status_sensor_context(
        sensor_name="failure_alert_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=tagged,
    ).for_run_failure()
    sensor(context)
    marked = current(warehouse, unreached.id)
    assert marked.state == "failed"
    assert marked.error is not None
    assert marked.error.startswith(f"The orchestrator's run {result.run_id} of retrain_job failed")
    assert "trained_model: " in marked.error
    warehouse.dispose()
