"""The Dagster layer in process: assets on a small plant, sensors, schedule, alerts.

The assets are materialised once per module over the session's small plant
(ingest, ETL, a logistic-regression champion, scores); the sensors and the
schedule are evaluated with Dagster's test contexts, and the failure alert
posts to a webhook served on 127.0.0.1 by the test.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from roadtest.cli import app
from roadtest.config import Settings
from roadtest.monitor.activity import TRIGGER_TAG
from roadtest.orchestration.assets import TRIGGER_RUN_TAG
from roadtest.orchestration.definitions import ASSETS, build_definitions
from roadtest.orchestration.sensors import failure_alert_sensor
from roadtest.simulate import ExportFormat
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse

pytestmark = pytest.mark.slow

TRAIN_LOGREG = {"ops": {"trained_model": {"config": {"models": "logreg"}}}}


def settings_for(home: Path, landing: Path, **overrides: Any) -> Settings:
    return Settings(
        home=home,
        lake_uri=None,
        warehouse_url=None,
        mlflow_tracking_uri=None,
        landing_dir=landing,
        **overrides,
    )


def materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Asset → metadata values of its materialisation in the run."""
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        assert materialization is not None
        found[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return found


@pytest.fixture(scope="module")
def platform(
    plant_exports: Callable[[ExportFormat], Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, dict[str, Any]]]:
    """Every asset materialised once over the small plant's exports dropped in a landing folder."""
    root = tmp_path_factory.mktemp("orchestration")
    landing = root / "landing"
    shutil.copytree(plant_exports("parquet"), landing)
    settings = settings_for(root / "home", landing)
    result = dg.materialize(list(ASSETS), resources={"settings": settings}, run_config=TRAIN_LOGREG)
    assert result.success
    return settings, materialized(result)


def test_materialising_the_assets_takes_exports_to_scored_vehicles(
    platform: tuple[Settings, dict[str, dict[str, Any]]],
) -> None:
    settings, metadata = platform
    assert list(metadata) == [
        "raw_exports",
        "bronze",
        "warehouse_tables",
        "feature_marts",
        "trained_model",
        "champion",
        "scored_vehicles",
    ]
    assert metadata["raw_exports"]["files"] == 3
    assert metadata["bronze"]["loaded"] == 3
    assert metadata["bronze"]["rejected_files"] == []
    assert metadata["warehouse_tables"]["outcome"] == "loaded"
    assert metadata["feature_marts"]["mart_vehicle_features"] > 0
    assert metadata["trained_model"]["registered_version"] == "1"
    assert metadata["trained_model"]["promoted"] is True
    assert metadata["champion"]["version"] == "1"
    warehouse = Warehouse.from_settings(settings)
    try:
        predictions = warehouse.read_predictions()
        pending = warehouse.read_features().filter(~warehouse.read_features()["labelled"])
    finally:
        warehouse.dispose()
    assert metadata["scored_vehicles"]["vehicles"] == pending.height > 0
    assert set(predictions["knr"]) == set(pending["knr"])
    registry = Registry.from_settings(settings)
    run = MlflowClient(registry.tracking_uri).get_run(metadata["trained_model"]["run_id"])
    assert run.data.tags[TRIGGER_TAG] == "manual"


def test_the_assets_form_one_lineage_from_exports_to_scores() -> None:
    graph = build_definitions(Settings()).resolve_asset_graph()
    parents = {
        key.to_user_string(): sorted(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    }
    assert parents == {
        "raw_exports": [],
        "bronze": ["raw_exports"],
        "warehouse_tables": ["bronze"],
        "feature_marts": ["warehouse_tables"],
        "trained_model": ["feature_marts"],
        "champion": ["trained_model"],
        "scored_vehicles": ["champion", "feature_marts"],
    }


def test_a_second_ingest_run_loads_nothing_twice_and_lists_a_rejected_file(
    platform: tuple[Settings, dict[str, dict[str, Any]]],
) -> None:
    settings, _ = platform
    landing = settings.resolved_landing_dir()
    (landing / "unknown_export.csv").write_text("COLUMN_A;COLUMN_B\n1;2\n")
    job = build_definitions(settings).resolve_job_def("ingest_job")
    try:
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    finally:
        (landing / "unknown_export.csv").unlink()
    assert result.success
    metadata = materialized(result)
    assert metadata["bronze"]["already_ingested"] == 3
    assert metadata["bronze"]["rejected"] == 1
    [rejected] = metadata["bronze"]["rejected_files"]
    assert rejected.startswith("unknown_export.csv: ")
    assert metadata["warehouse_tables"]["outcome"] == "nothing new"
    assert metadata["scored_vehicles"]["vehicles"] > 0


def drop(path: Path, text: str, age_s: float = 120.0) -> None:
    """Write an export into the landing folder as if its copy ended ``age_s`` seconds ago."""
    path.write_text(text)
    then = time.time() - age_s
    os.utime(path, (then, then))


def test_the_landing_sensor_asks_for_a_run_only_for_new_settled_files(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    settings = settings_for(tmp_path / "home", landing)
    sensor = build_definitions(settings).resolve_sensor_def("landing_sensor")
    assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    landing.mkdir()
    drop(landing / "FALHAS.csv", "KNR;DATA\n", age_s=0)
    drop(landing / "notes.md", "not an export")
    assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    drop(landing / "FALHAS.csv", "KNR;DATA\n")
    first = sensor(dg.build_sensor_context())
    assert isinstance(first, dg.SensorResult) and first.run_requests
    assert first.run_requests[0].tags[TRIGGER_RUN_TAG] == "landing"
    assert first.cursor is not None and json.loads(first.cursor)[0].startswith("FALHAS.csv|")
    assert isinstance(sensor(dg.build_sensor_context(cursor=first.cursor)), dg.SkipReason)
    drop(landing / "STATUS.csv", "KNR;STATUS;DATA\n")
    second = sensor(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(second, dg.SensorResult) and second.run_requests
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    assert second.cursor is not None and len(json.loads(second.cursor)) == 2


def test_the_steps_that_touch_the_stores_retry_with_backoff() -> None:
    policies = {asset.op.name: asset.op.retry_policy for asset in ASSETS}
    for name in ("bronze", "warehouse_tables", "champion", "scored_vehicles"):
        policy = policies[name]
        assert policy is not None and policy.max_retries == 3, name
        assert policy.backoff == dg.Backoff.EXPONENTIAL
    trained = policies["trained_model"]
    assert trained is not None and trained.max_retries == 1
    assert policies["raw_exports"] is None


def test_the_retraining_schedule_is_monthly_by_default_and_configurable(tmp_path: Path) -> None:
    monthly = build_definitions(settings_for(tmp_path, tmp_path)).resolve_schedule_def(
        "retrain_schedule"
    )
    assert monthly.cron_schedule == "0 3 1 * *"
    assert monthly.job_name == "retrain_job"
    when = datetime(2026, 3, 1, 3, tzinfo=UTC)
    request = monthly.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.run_requests is not None
    assert request.run_requests[0].tags[TRIGGER_RUN_TAG] == "schedule"
    weekly = settings_for(tmp_path, tmp_path, retrain_cron="30 2 * * 1")
    schedule = build_definitions(weekly).resolve_schedule_def("retrain_schedule")
    assert schedule.cron_schedule == "30 2 * * 1"


def test_orchestrate_refuses_a_bad_cron_before_starting_dagster(tmp_path: Path) -> None:
    env = {"ROADTEST_HOME": str(tmp_path), "ROADTEST_RETRAIN_CRON": "every month"}
    result = CliRunner().invoke(app, ["orchestrate"], env=env)
    assert result.exit_code == 2
    assert "the orchestration cannot start" in result.output


def test_the_retraining_trigger_fires_on_drift_and_stays_quiet_below_the_thresholds(
    platform: tuple[Settings, dict[str, dict[str, Any]]],
) -> None:
    settings, _ = platform

    def evaluate(**overrides: Any) -> dg.RunRequest | dg.SkipReason:
        changed = settings.model_copy(update=overrides)
        sensor = build_definitions(changed).resolve_sensor_def("retrain_trigger_sensor")
        outcome = sensor(dg.build_sensor_context())
        assert isinstance(outcome, dg.RunRequest | dg.SkipReason)
        return outcome

    quiet = evaluate(drift_psi_threshold=1e6, performance_drop_threshold=1.0)
    assert isinstance(quiet, dg.SkipReason)
    assert "champion 1" in (quiet.skip_message or "")
    fired = evaluate(drift_psi_threshold=1e-6)
    assert isinstance(fired, dg.RunRequest)
    assert fired.run_key == "1:drift"
    assert fired.tags[TRIGGER_RUN_TAG] == "drift"


def test_the_retraining_trigger_waits_for_a_champion(tmp_path: Path) -> None:
    sensor = build_definitions(settings_for(tmp_path, tmp_path)).resolve_sensor_def(
        "retrain_trigger_sensor"
    )
    skipped = sensor(dg.build_sensor_context())
    assert isinstance(skipped, dg.SkipReason)
    assert "no champion" in (skipped.skip_message or "")


class Webhook(BaseHTTPRequestHandler):
    """Records the JSON bodies POSTed to it."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def webhook() -> Iterator[str]:
    Webhook.received = []
    server = HTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()


def failed_run(home: Path) -> tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]:
    """A retraining over a warehouse without labels: it fails at once, without retrying."""
    settings = settings_for(home, home / "landing")
    warehouse = Warehouse.from_settings(settings)
    warehouse.migrate()
    warehouse.dispose()
    job = build_definitions(settings).resolve_job_def("retrain_job")
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        instance=instance, raise_on_error=False, run_config=TRAIN_LOGREG
    )
    return instance, result


def failure_context(
    instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult
) -> dg.RunFailureSensorContext:
    """What Dagster hands the failure sensor for the failed ``result``."""
    return dg.build_run_status_sensor_context(
        sensor_name="failure_alert_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()


def test_a_failed_run_is_posted_to_the_alert_webhook(tmp_path: Path, webhook: str) -> None:
    instance, result = failed_run(tmp_path)
    assert not result.success
    assert result.get_failed_step_keys() == {"trained_model"}
    assert len(result.get_step_failure_events()) == 1
    sensor = failure_alert_sensor(settings_for(tmp_path, tmp_path, alert_webhook_url=webhook))
    context = failure_context(instance, result)
    sensor(context)
    assert len(Webhook.received) == 1
    alert = Webhook.received[0]
    assert alert["job"] == "retrain_job"
    assert alert["run_id"] == result.run_id
    assert alert["message"].startswith("trained_model: ")
    assert "the warehouse has no labelled vehicle" in alert["message"]
    assert alert["text"].startswith(f"roadtest: run {result.run_id} of retrain_job failed")


def test_without_a_webhook_a_failed_run_is_only_logged(tmp_path: Path, webhook: str) -> None:
    instance, result = failed_run(tmp_path)
    sensor = failure_alert_sensor(settings_for(tmp_path, tmp_path))
    context = failure_context(instance, result)
    sensor(context)
    assert Webhook.received == []
