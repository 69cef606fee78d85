"""Training runs through the API, kept in the warehouse: on DuckDB and PostgreSQL.

A cheap fake ``train`` stands in for the pipeline (the real one is exercised in
test_api_models); several app instances over one warehouse stand for the
worker processes of ``roadtest serve --workers N`` and for a restarted API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from fastapi.testclient import TestClient

from roadtest.config import Settings
from roadtest.orchestration.assets import TRAINING_RUN_TAG, TRIGGER_RUN_TAG
from roadtest.orchestration.definitions import build_definitions
from roadtest.progress import Progress
from roadtest.serving import Services, create_app
from roadtest.serving.schemas import TrainingRunRequest
from roadtest.serving.training_runs import TrainingRuns
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse, connect
from roadtest.warehouse.training_runs import enqueue_run
from tests.integration.test_api_support import WRITE_KEY, api_settings
from tests.integration.test_training_queue import FakeOutcome

WRITE = {"X-API-Key": WRITE_KEY}
ASKED = {"models": ["logreg", "gru"], "max_epochs": 2, "seed": 5}


class FakeTrainer:
    """A ``Services.train`` that reports two steps and waits for the test to let it finish."""

    def __init__(self, error: str | None = None) -> None:
        self.error = error
        self.release = threading.Event()
        self.calls: list[TrainingRunRequest] = []

    def __call__(
        self,
        warehouse: Warehouse,
        registry: Registry,
        request: TrainingRunRequest,
        progress: Progress,
    ) -> FakeOutcome:
        self.calls.append(request)
        progress.start("prepare data", total=2)
        progress.advance("prepare data", 2)
        progress.finish("prepare data")
        progress.start("train logreg", total=None)
        assert self.release.wait(30), "the test never let the run finish"
        if self.error is not None:
            raise RuntimeError(self.error)
        progress.finish("train logreg")
        return FakeOutcome(run_id="mlflow-run-9", registered_version="3")


def settings_over(home: Path, url: str, **overrides: Any) -> Settings:
    return api_settings(home, warehouse_url=url, **overrides)


@contextmanager
def api(settings: Settings, trainer: FakeTrainer | None = None) -> Iterator[TestClient]:
    """An API app (one "process") over the settings' stores, training with ``trainer``."""
    services = Services.from_settings(settings)
    if trainer is not None:
        services = dataclasses.replace(services, train=trainer)
    with TestClient(create_app(settings, services=services)) as client:
        yield client


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def status(client: TestClient, run_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/training-runs/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_run_the_api_trains_is_followed_from_any_process(
    tmp_path: Path, warehouse_url: str
) -> None:
    settings = settings_over(tmp_path / "home", warehouse_url)
    trainer = FakeTrainer()
    with api(settings, trainer) as first, api(settings) as second:
        started = first.post("/v1/training-runs", json=ASKED, headers=WRITE)
        assert started.status_code == 202, started.text
        run = started.json()
        assert (run["state"], run["runner"]) == ("running", "api")
        assert run["started_at"] is not None
        again = second.post("/v1/training-runs", json={}, headers=WRITE)
        assert again.status_code == 409
        assert f"Training run {run['id']} is running" in again.json()["detail"]
        wait_for(lambda: "train logreg" in status(second, run["id"])["progress"])
        seen = status(second, run["id"])
        assert seen["state"] == "running"
        assert seen["progress"]["prepare data"] == {"done": 2, "total": 2, "finished": True}
        trainer.release.set()
        wait_for(lambda: status(second, run["id"])["state"] != "running")
    assert trainer.calls == [TrainingRunRequest(**ASKED)]
    with api(settings) as restarted:
        done = status(restarted, run["id"])
    assert done["state"] == "succeeded", done["error"]
    assert (done["mlflow_run_id"], done["model_version"]) == ("mlflow-run-9", "3")
    assert done["result"] == FakeOutcome("mlflow-run-9", "3").to_dict()
    assert all(step["finished"] for step in done["progress"].values())
    assert done["finished_at"] >= done["started_at"] >= done["requested_at"]


def test_a_failed_run_says_why_and_lets_the_next_one_start(
    tmp_path: Path, warehouse_url: str
) -> None:
    settings = settings_over(tmp_path / "home", warehouse_url)
    trainer = FakeTrainer(error="the warehouse has no labelled vehicle")
    trainer.release.set()
    with api(settings, trainer) as client:
        run = client.post("/v1/training-runs", json={}, headers=WRITE).json()
        wait_for(lambda: status(client, run["id"])["state"] != "running")
        failed = status(client, run["id"])
        assert failed["state"] == "failed"
        assert failed["error"] == "the warehouse has no labelled vehicle"
        assert failed["progress"]["prepare data"]["finished"] is True
        assert client.post("/v1/training-runs", json={}, headers=WRITE).status_code == 202


def test_a_lost_run_is_reported_failed_and_no_longer_blocks(
    tmp_path: Path, warehouse_url: str
) -> None:
    settings = settings_over(tmp_path / "home", warehouse_url, training_run_stale_s=60)
    trainer = FakeTrainer()
    trainer.release.set()
    with api(settings, trainer) as client:
        warehouse: Warehouse = client.app.state.api.services.warehouse  # type: ignore[attr-defined]
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        lost = enqueue_run(warehouse, {}, stale_after_s=60, runner="api", now=long_ago)
        body = status(client, lost.id)
        assert body["state"] == "failed"
        assert "gave no sign of life for more than 60 s" in body["error"]
        assert client.post("/v1/training-runs", json={}, headers=WRITE).status_code == 202


def test_an_unknown_run_is_404(tmp_path: Path) -> None:
    with api(api_settings(tmp_path / "home")) as client:
        response = client.get(f"/v1/training-runs/{'0' * 32}")
    assert response.status_code == 404
    assert "No training run" in response.json()["detail"]


def test_the_api_refreshes_its_model_after_a_run_it_trained(tmp_path: Path) -> None:
    warehouse = connect(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    warehouse.migrate()
    refreshed = threading.Event()
    runs = TrainingRuns(warehouse, "api", 600.0, on_success=refreshed.set)
    row = runs.start(TrainingRunRequest(), lambda progress: FakeOutcome())
    assert refreshed.wait(30)
    assert runs.get(row.id).state == "succeeded"
    warehouse.dispose()


def test_with_a_worker_runner_the_api_queues_and_the_sensor_claims(
    tmp_path: Path, warehouse_url: str
) -> None:
    settings = settings_over(tmp_path / "home", warehouse_url, training_runner="worker")
    trainer = FakeTrainer()
    with api(settings, trainer) as client:
        started = client.post("/v1/training-runs", json=ASKED, headers=WRITE)
        assert started.status_code == 202, started.text
        run = started.json()
        assert (run["state"], run["runner"], run["started_at"]) == ("queued", None, None)
        assert client.post("/v1/training-runs", json={}, headers=WRITE).status_code == 409
        assert status(client, run["id"])["state"] == "queued"

        idle = build_definitions(settings.model_copy(update={"training_runner": "api"}))
        skipped = idle.resolve_sensor_def("training_queue_sensor")(dg.build_sensor_context())
        assert isinstance(skipped, dg.SkipReason)
        assert status(client, run["id"])["state"] == "queued"

        sensor = build_definitions(settings).resolve_sensor_def("training_queue_sensor")
        request = sensor(dg.build_sensor_context())
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == run["id"]
        assert request.tags[TRAINING_RUN_TAG] == run["id"]
        assert request.tags[TRIGGER_RUN_TAG] == "api"
        assert request.run_config == {
            "ops": {"trained_model": {"config": {"models": "logreg,gru", "epochs": 2, "seed": 5}}}
        }
        claimed = status(client, run["id"])
        assert (claimed["state"], claimed["runner"]) == ("running", "dagster")
        assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    assert trainer.calls == []


def test_the_sensor_request_fits_the_retraining_job(tmp_path: Path) -> None:
    """The run config the sensor writes is one ``retrain_job`` accepts (defaults included)."""
    settings = settings_over(
        tmp_path / "home", f"duckdb:///{tmp_path / 'w.duckdb'}", training_runner="worker"
    )
    warehouse = Warehouse.from_settings(settings)
    warehouse.migrate()
    enqueue_run(warehouse, {"models": None, "max_epochs": None, "seed": 0}, stale_after_s=600)
    warehouse.dispose()
    definitions = build_definitions(settings)
    request = definitions.resolve_sensor_def("training_queue_sensor")(dg.build_sensor_context())
    assert isinstance(request, dg.RunRequest)
    config = request.run_config["ops"]["trained_model"]["config"]
    assert config == {"models": "", "epochs": 0, "seed": 0}
    job = definitions.resolve_job_def("retrain_job")
    validated = dg.validate_run_config(job, request.run_config)
    assert validated["ops"]["trained_model"]["config"] == config
