"""Sensors and the schedule: new exports, drift or a performance drop, failed runs.

The landing sensor's cursor is the set of files present and seen (name, size
and modification time, so a file replaced in place is new again; files moved
away leave the cursor, which stays the size of the folder). A file is only
considered once it has not changed for ``SETTLE_S`` seconds, so a copy still
in progress is not ingested half-written. The lake recognises content it
already holds, so a file seen twice costs a read, never a duplicate.

The retraining trigger uses the champion version and the kind of trigger as
run key: it fires once per champion and reason, not every hour while a
retrained challenger fails to beat the champion.

The training-queue sensor runs the training runs the API queued
(``ROADTEST_TRAINING_RUNNER=worker``): it claims the oldest queued row of the
warehouse's ``training_runs`` (queued → running, in one guarded update, so of
two claimers one wins) and asks for ``retrain_job`` with the run's id as run
key. It stays idle when the setting is ``api``: the API then trains itself and
never queues a row, and the warehouse is not polled for nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import dagster as dg

from roadtest.config import Settings
from roadtest.orchestration.alerts import alert_payload, post_alert
from roadtest.orchestration.assets import TRAINING_RUN_TAG, TRIGGER_RUN_TAG, landing_files
from roadtest.orchestration.triggers import assess_retraining
from roadtest.warehouse import Warehouse
from roadtest.warehouse.migrations import MIGRATIONS
from roadtest.warehouse.training_runs import TrainingRunRow, claim_next_run, record_failure

LANDING_INTERVAL_S: Final = 60
SETTLE_S: Final = 30.0
"""A file changed less than this long ago may still be being copied: it waits a tick."""
TRIGGER_INTERVAL_S: Final = 3600
TRAINING_QUEUE_INTERVAL_S: Final = 10
"""The API's caller waits for a queued run: look for one every few seconds."""
DAGSTER_RUNNER: Final = "dagster"
"""The ``runner`` of a training run the orchestrator claimed."""


def file_key(path: Path, root: Path) -> str:
    """Identity of a landed file: where it is, how big, when it last changed."""
    stat = path.stat()
    return f"{path.relative_to(root).as_posix()}|{stat.st_size}|{stat.st_mtime_ns}"


def read_cursor(cursor: str | None) -> set[str]:
    """Files seen so far, from the sensor's cursor (empty on its first evaluation)."""
    return set(json.loads(cursor)) if cursor else set()


def settled(path: Path, now: float, settle_s: float = SETTLE_S) -> bool:
    """Whether ``path`` has not changed for ``settle_s`` seconds (its copy has finished)."""
    return now - path.stat().st_mtime >= settle_s


def unseen(keys: Iterable[str], seen: set[str]) -> list[str]:
    """Keys not seen before, sorted."""
    return sorted(set(keys) - seen)


def landing_sensor(settings: Settings, job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """Starts the ingest job when export files appear in the landing folder."""

    @dg.sensor(
        name="landing_sensor",
        job=job,
        minimum_interval_seconds=LANDING_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Ingests and loads export files dropped into ROADTEST_LANDING_DIR.",
    )
    def sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        landing = settings.resolved_landing_dir()
        seen = read_cursor(context.cursor)
        now = time.time()
        keys = [file_key(p, landing) for p in landing_files(landing) if settled(p, now)]
        new = unseen(keys, seen)
        if not new:
            return dg.SkipReason(f"no new export file in {landing}")
        run_key = "landing:" + ",".join(new)
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key, tags={TRIGGER_RUN_TAG: "landing"})],
            cursor=json.dumps(sorted(set(keys))),
        )

    return sensor


def retrain_trigger_sensor(
    settings: Settings, job: dg.UnresolvedAssetJobDefinition
) -> dg.SensorDefinition:
    """Starts retraining when key features drift or live performance drops (see ``drift``)."""

    @dg.sensor(
        name="retrain_trigger_sensor",
        job=job,
        minimum_interval_seconds=TRIGGER_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Retrains when feature drift (PSI) or a live-performance drop crosses "
        "ROADTEST_DRIFT_PSI_THRESHOLD or ROADTEST_PERFORMANCE_DROP_THRESHOLD.",
    )
    def sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        assessment = assess_retraining(settings)
        if assessment is None:
            return dg.SkipReason("no champion yet: nothing to compare")
        decision = assessment.decision
        if not decision.retrain:
            return dg.SkipReason(
                f"champion {assessment.champion_version}: no drift or performance drop"
            )
        context.log.info("; ".join(decision.reasons))
        return dg.RunRequest(
            run_key=f"{assessment.champion_version}:{decision.trigger}",
            tags={TRIGGER_RUN_TAG: decision.trigger},
        )

    return sensor


def training_run_request(run: TrainingRunRow) -> dg.RunRequest:
    """The ``retrain_job`` run carrying out a claimed training run, as its request asked.

    Models left unset take the worker's ``ROADTEST_RETRAIN_MODELS`` (the job's
    config default), epochs unset the models' own limit.
    """
    request = run.request
    config = {
        "models": ",".join(request.get("models") or []),
        "epochs": request.get("max_epochs") or 0,
        "seed": request.get("seed") or 0,
    }
    return dg.RunRequest(
        run_key=run.id,
        tags={TRIGGER_RUN_TAG: "api", TRAINING_RUN_TAG: run.id},
        run_config={"ops": {"trained_model": {"config": config}}},
    )


def training_queue_sensor(
    settings: Settings, job: dg.UnresolvedAssetJobDefinition
) -> dg.SensorDefinition:
    """Starts ``retrain_job`` for each training run the API queued (see the module docstring)."""

    @dg.sensor(
        name="training_queue_sensor",
        job=job,
        minimum_interval_seconds=TRAINING_QUEUE_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the training runs queued through POST /v1/training-runs when "
        "ROADTEST_TRAINING_RUNNER is worker.",
    )
    def sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        if settings.training_runner != "worker":
            return dg.SkipReason(
                "ROADTEST_TRAINING_RUNNER is api: the API trains its runs itself and queues none"
            )
        warehouse = Warehouse.from_settings(settings)
        try:
            if warehouse.schema_version() < MIGRATIONS[-1].version:
                warehouse.migrate()  # the API may not have created training_runs yet
            claimed = claim_next_run(
                warehouse, DAGSTER_RUNNER, stale_after_s=settings.training_run_stale_s
            )
        finally:
            warehouse.dispose()
        if claimed is None:
            return dg.SkipReason("no training run is queued")
        context.log.info(f"took training run {claimed.id}: {claimed.request}")
        return training_run_request(claimed)

    return sensor


def retrain_schedule(
    settings: Settings, job: dg.UnresolvedAssetJobDefinition
) -> dg.ScheduleDefinition:
    """The regular retraining (monthly by default, ``ROADTEST_RETRAIN_CRON``)."""
    return dg.ScheduleDefinition(
        name="retrain_schedule",
        job=job,
        cron_schedule=settings.retrain_cron,
        execution_timezone=settings.retrain_timezone,
        tags={TRIGGER_RUN_TAG: "schedule"},
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Retrains on the newest labels on ROADTEST_RETRAIN_CRON.",
    )


def failure_message(context: dg.RunFailureSensorContext) -> str:
    """Which steps failed and why, in the words of the pipeline's own errors."""
    reasons = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        error = data.error.message.strip() if data.error is not None else "no reason recorded"
        reasons.append(f"{event.step_key}: {error}")
    return "; ".join(reasons) or context.failure_event.message or "no reason recorded"


def fail_training_run(settings: Settings, run: dg.DagsterRun, message: str) -> bool:
    """Mark the API's training run a failed Dagster run carried out failed, if still active.

    A run that failed before ``trained_model`` recorded anything (a step before
    it, a launch failure) would otherwise leave the row running until it goes
    stale. Returns whether a row was changed.
    """
    training_run = run.tags.get(TRAINING_RUN_TAG)
    if training_run is None:
        return False
    warehouse = Warehouse.from_settings(settings)
    try:
        return record_failure(
            warehouse,
            training_run,
            f"The orchestrator's run {run.run_id} of {run.job_name} failed: {message}",
        )
    finally:
        warehouse.dispose()


def failure_alert_sensor(settings: Settings) -> dg.SensorDefinition:
    """Logs every failed run, fails the training run it carried out, and POSTs it to
    ``ROADTEST_ALERT_WEBHOOK_URL`` when set."""

    @dg.run_failure_sensor(
        name="failure_alert_sensor",
        default_status=dg.DefaultSensorStatus.RUNNING,
        monitor_all_code_locations=False,
    )
    def sensor(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        message = failure_message(context)
        context.log.error(f"run {run.run_id} of {run.job_name} failed: {message}")
        try:
            fail_training_run(settings, run, message)
        except Exception as error:
            context.log.error(f"the failed training run could not be recorded: {error}")
        url = settings.alert_webhook_url
        if not url:
            return
        try:
            post_alert(url, alert_payload(run.job_name, run.run_id, message))
        except Exception as error:
            context.log.error(f"the failure alert could not be sent to the webhook: {error}")

    return sensor
