"""POST /v1/ingest: uploaded exports reach the lake and the warehouse, and can be scored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from roadtest.serving import create_app
from roadtest.simulate import PlantConfig, simulate_plant, write_exports
from tests.integration.test_api_support import (  # noqa: F401
    WRITE_KEY,
    TrainedPlant,
    api_settings,
    copy_home,
    trained_plant_fixture,
)

pytestmark = pytest.mark.slow

WRITE = {"X-API-Key": WRITE_KEY}


@pytest.fixture(scope="module")
def new_exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """CSV exports of 25 vehicles built a year after the trained plant, and their KNRs."""
    plant = simulate_plant(PlantConfig(vehicles=25, seed=3, start=date(2025, 3, 3)))
    root = tmp_path_factory.mktemp("new_exports")
    write_exports(plant, root / "exports", "csv", root / "truth", seed=1)
    knrs = sorted(set(plant.status["KNR"].str.strip_chars().to_list()))
    return root / "exports", knrs


@pytest.fixture(scope="module")
def client(
    trained_plant: TrainedPlant,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    home = copy_home(trained_plant, tmp_path_factory.mktemp("api_ingest") / "home")
    with TestClient(create_app(api_settings(home))) as test_client:
        yield test_client


def upload(client: TestClient, folder: Path) -> dict[str, object]:
    files = [("files", (p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
    response = client.post("/v1/ingest", files=files, headers=WRITE)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_uploaded_exports_are_loaded_and_their_vehicles_scored(
    client: TestClient, new_exports: tuple[Path, list[str]]
) -> None:
    folder, knrs = new_exports
    assert client.post("/v1/predictions", json={"knr": knrs[0]}).status_code == 404

    body = upload(client, folder)
    ingest, etl = body["ingest"], body["etl"]
    assert isinstance(ingest, dict) and isinstance(etl, dict)
    assert ingest["ok"] is True
    assert ingest["totals"]["loaded"] == 3
    assert {f["table"] for f in ingest["files"]} == {"RESULTADOS", "FALHAS", "STATUS"}
    assert etl["outcome"] == "loaded"
    assert etl["vehicles_affected"] == len(knrs)
    assert etl["checks_passed"] > 0

    scored = client.post("/v1/predictions/batch", json={"vehicles": [{"knr": k} for k in knrs]})
    assert scored.json()["n_predicted"] == len(knrs)


def test_the_same_files_again_change_nothing(
    client: TestClient, new_exports: tuple[Path, list[str]]
) -> None:
    folder, _ = new_exports
    upload(client, folder)
    again = upload(client, folder)
    ingest, etl = again["ingest"], again["etl"]
    assert isinstance(ingest, dict) and isinstance(etl, dict)
    assert ingest["totals"]["already_ingested"] == 3
    assert etl["outcome"] == "nothing new"


def test_an_unreadable_file_is_rejected_with_its_reason(client: TestClient) -> None:
    response = client.post(
        "/v1/ingest", files={"files": ("notes.csv", b"hello;world\n1;2\n")}, headers=WRITE
    )
    assert response.status_code == 200
    (outcome,) = response.json()["ingest"]["files"]
    assert outcome["outcome"] == "rejected"
    assert outcome["reason"]
    assert response.json()["ingest"]["ok"] is False


def test_an_upload_without_a_file_name_is_422(client: TestClient) -> None:
    response = client.post("/v1/ingest", files={"files": ("", b"KNR;STATUS;DATA\n")}, headers=WRITE)
    assert response.status_code == 422


def test_a_file_the_readers_choke_on_is_rejected_and_the_others_still_load(
    client: TestClient, tmp_path: Path
) -> None:
    plant = simulate_plant(PlantConfig(vehicles=10, seed=4, start=date(2025, 6, 2)))
    write_exports(plant, tmp_path / "exports", "csv", tmp_path / "truth", seed=2)
    status = tmp_path / "exports" / "STATUS.csv"
    response = client.post(
        "/v1/ingest",
        files=[
            ("files", ("odd.csv", b"0\r\t\r\n")),
            ("files", ("STATUS.csv", status.read_bytes())),
        ],
        headers=WRITE,
    )
    assert response.status_code == 200, response.text
    odd, loaded = response.json()["ingest"]["files"]
    assert odd["outcome"] == "rejected"
    assert "odd.csv" in odd["reason"]
    assert loaded["outcome"] == "loaded"
    assert response.json()["etl"]["outcome"] == "loaded"
