"""Model routes: versions, promotion, hot reload of the champion, failed loads, training runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from roadtest.config import Settings
from roadtest.serving import create_app
from roadtest.training.promotion import activate_version
from roadtest.training.registry import (
    MODEL_CARD_FILE,
    Registry,
    RunRecord,
    read_model_folder,
    write_model_folder,
)
from roadtest.warehouse import Warehouse
from tests.integration.test_api_support import (  # noqa: F401
    WRITE_KEY,
    TrainedPlant,
    api_settings,
    copy_home,
    trained_plant_fixture,
)

pytestmark = pytest.mark.slow

WRITE = {"X-API-Key": WRITE_KEY}


def register_copy(registry: Registry, version: str, tmp: Path, *, corrupt: bool = False) -> str:
    """A new version holding ``version``'s model folder (or a corrupt ONNX file)."""
    folder = registry.download_version(version, tmp / f"from_{version}")
    if corrupt:
        stored = read_model_folder(folder)
        broken = type(stored)(
            kind=stored.kind,
            model_bytes=b"not an onnx model",
            feature_spec_json=stored.feature_spec_json,
            threshold=stored.threshold,
            group_names=stored.group_names,
        )
        folder = write_model_folder(tmp / f"broken_{version}", broken)
    assert (folder / MODEL_CARD_FILE).is_file()
    run_id = registry.log_run(RunRecord(name="copy", artifacts={"model": folder}))
    return registry.register_version(run_id, tags={"model_kind": "gru"}).version


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.fixture
def home(trained_plant: TrainedPlant, tmp_path: Path) -> Path:
    return copy_home(trained_plant, tmp_path / "home")


@pytest.fixture
def polling(home: Path) -> Iterator[TestClient]:
    """An API polling the registry alias every 0.2 s."""
    with TestClient(create_app(api_settings(home, api_model_poll_seconds=0.2))) as client:
        yield client


def test_models_list_versions_with_metrics_lineage_and_activation(
    polling: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    body = polling.get("/v1/models").json()
    assert body["champion"] == trained_plant.version
    assert body["serving"] == trained_plant.version
    (version,) = body["versions"]
    assert version["is_champion"] and version["serving"]
    assert version["aliases"] == ["champion"]
    assert 0.0 <= version["metrics"]["pr_auc"] <= 1.0
    assert version["tags"]["model_kind"] == "gru"
    assert version["lineage"]["data_fingerprint"]
    assert version["lineage"]["code_version"]
    assert "bronze_version.RESULTADOS" in version["lineage"]
    (period,) = version["activations"]
    assert period["active_to"] is None
    assert polling.get(f"/v1/models/{trained_plant.version}").json() == version
    missing = polling.get("/v1/models/999")
    assert missing.status_code == 404
    assert "999" in missing.json()["detail"]
    assert polling.get("/v1/models/latest").status_code == 422


def test_the_champion_is_swapped_when_the_alias_moves_without_dropping_requests(
    polling: TestClient,
    home: Path,
    tmp_path: Path,
    trained_plant: TrainedPlant,
) -> None:
    settings = Settings(home=home)
    registry = Registry.from_settings(settings)
    new_version = register_copy(registry, trained_plant.version, tmp_path)
    knr = trained_plant.knrs[0]
    statuses: list[int] = []
    versions: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            response = polling.post("/v1/predictions", json={"knr": knr})
            statuses.append(response.status_code)
            if response.status_code == 200:
                versions.append(response.json()["model_version"])

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        wait_for(lambda: len(statuses) >= 3)
        warehouse = polling.app.state.api.services.warehouse  # type: ignore[attr-defined]
        activate_version(registry, warehouse, new_version)
        wait_for(lambda: polling.get("/v1/ready").json()["model_version"] == new_version)
        wait_for(lambda: new_version in versions[-3:])
    finally:
        stop.set()
        worker.join()
    assert set(statuses) == {200}
    assert versions[0] == trained_plant.version
    assert versions[-1] == new_version
    metrics = polling.get("/v1/metrics").text
    assert f'roadtest_champion_info{{version="{new_version}"}} 1.0' in metrics
    assert "roadtest_model_loads_total 2.0" in metrics


def test_a_version_that_fails_to_load_does_not_replace_the_working_one(
    polling: TestClient,
    home: Path,
    tmp_path: Path,
    trained_plant: TrainedPlant,
) -> None:
    registry = Registry.from_settings(Settings(home=home))
    broken = register_copy(registry, trained_plant.version, tmp_path, corrupt=True)
    warehouse: Warehouse = polling.app.state.api.services.warehouse  # type: ignore[attr-defined]
    activate_version(registry, warehouse, broken)
    wait_for(lambda: polling.get("/v1/ready").json()["model_load_error"] is not None)

    ready = polling.get("/v1/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["model_version"] == trained_plant.version
    assert f"version {broken}" in body["model_load_error"]
    assert f"version {broken}" in body["checks"]["model"]["detail"]
    assert "roadtest_model_load_errors_total 1.0" in polling.get("/v1/metrics").text
    prediction = polling.post("/v1/predictions", json={"knr": trained_plant.knrs[0]})
    assert prediction.json()["model_version"] == trained_plant.version

    time.sleep(0.5)
    assert "roadtest_model_load_errors_total 1.0" in polling.get("/v1/metrics").text


def test_promotion_through_the_api_serves_the_version_at_once(
    home: Path,
    tmp_path: Path,
    trained_plant: TrainedPlant,
) -> None:
    registry = Registry.from_settings(Settings(home=home))
    second = register_copy(registry, trained_plant.version, tmp_path)
    with TestClient(create_app(api_settings(home))) as client:
        assert client.get("/v1/ready").json()["model_version"] == trained_plant.version
        response = client.post(f"/v1/models/{second}/promote", headers=WRITE)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "model_name": "roadtest",
            "version": second,
            "previous_champion": trained_plant.version,
            "serving": second,
        }
        promoted = client.get(f"/v1/models/{second}").json()
        assert "through the API" in promoted["tags"]["promotion_reason"]
        first = client.get(f"/v1/models/{trained_plant.version}").json()
        assert first["activations"][0]["active_to"] is not None
        assert not first["is_champion"]
        assert client.get("/v1/models").json()["champion"] == second
        assert client.post("/v1/models/999/promote", headers=WRITE).status_code == 404


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An API over a platform with no data and no model yet."""
    home = tmp_path_factory.mktemp("empty") / "home"
    with TestClient(create_app(api_settings(home))) as client:
        yield client


def test_no_champion_means_not_ready_and_503_on_predictions(empty: TestClient) -> None:
    ready = empty.get("/v1/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["model"]["ok"] is False
    response = empty.post("/v1/predictions", json={"knr": "2024-1234567"})
    assert response.status_code == 503
    assert "No champion" in response.json()["detail"]
    assert empty.get("/v1/models").json()["versions"] == []


def test_a_training_run_reports_progress_and_registers_a_version(
    home: Path,
    trained_plant: TrainedPlant,
) -> None:
    with TestClient(create_app(api_settings(home))) as client:
        started = client.post("/v1/training-runs", json={"models": ["logreg"]}, headers=WRITE)
        assert started.status_code == 202, started.text
        run = started.json()
        assert run["state"] == "running"
        second = client.post("/v1/training-runs", json={"models": ["logreg"]}, headers=WRITE)
        assert second.status_code == 409

        def finished() -> bool:
            return client.get(f"/v1/training-runs/{run['id']}").json()["state"] != "running"

        wait_for(finished, timeout=300)
        done = client.get(f"/v1/training-runs/{run['id']}").json()
        assert done["state"] == "succeeded", done["error"]
        assert done["model_version"] == str(int(trained_plant.version) + 1)
        assert done["mlflow_run_id"] == done["result"]["run_id"]
        assert done["progress"]["train logreg"]["finished"] is True
        assert all(step["finished"] for step in done["progress"].values())
        versions = [v["version"] for v in client.get("/v1/models").json()["versions"]]
        assert done["model_version"] in versions
        assert client.get(f"/v1/training-runs/{'0' * 32}").status_code == 404


def test_a_failing_training_run_says_why(empty: TestClient) -> None:
    run = empty.post("/v1/training-runs", json={"models": ["logreg"]}, headers=WRITE).json()

    def finished() -> bool:
        return empty.get(f"/v1/training-runs/{run['id']}").json()["state"] != "running"

    wait_for(finished)
    done = empty.get(f"/v1/training-runs/{run['id']}").json()
    assert done["state"] == "failed"
    assert "no labelled vehicle" in done["error"]
