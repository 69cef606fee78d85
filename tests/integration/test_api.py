"""The prediction API against a real trained champion: scoring, storage, errors, metrics, logs."""

from __future__ import annotations

import gc
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from roadtest.serving import create_app
from roadtest.serving.schemas import Prediction
from roadtest.training.scoring import load_champion
from roadtest.warehouse import Warehouse
from tests.integration.test_api_support import (  # noqa: F401
    TrainedPlant,
    api_settings,
    copy_home,
    trained_plant_fixture,
    vehicle_rows,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(trained_plant: TrainedPlant, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(trained_plant, tmp_path_factory.mktemp("api") / "home")


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    app = create_app(api_settings(home, api_max_batch_vehicles=500))
    with TestClient(app) as test_client:
        yield test_client


def stored_predictions(client: TestClient, knr: str) -> pl.DataFrame:
    warehouse: Warehouse = client.app.state.api.services.warehouse  # type: ignore[attr-defined]
    return warehouse.read_predictions([knr])


def test_health_and_ready_report_the_serving_champion(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    assert client.get("/v1/health").json() == {"status": "ok"}
    ready = client.get("/v1/ready")
    body = ready.json()
    assert ready.status_code == 200
    assert body["ready"] is True
    assert body["model_version"] == trained_plant.version
    assert set(body["checks"]) == {"model", "warehouse", "lake", "registry"}
    assert all(check["ok"] for check in body["checks"].values())


def test_the_loaded_champion_is_kept_out_of_garbage_collection_passes(
    client: TestClient,
) -> None:
    """Startup freezes what it built, so a full collection does not walk it mid-request."""
    served = client.app.state.api.holder.served  # type: ignore[attr-defined]
    assert served is not None
    assert gc.get_freeze_count() > 0
    assert not any(o is served.model for o in gc.get_objects())


def test_prediction_by_knr_is_the_champions_score_and_is_stored(
    client: TestClient,
    trained_plant: TrainedPlant,
    home: Path,
) -> None:
    knr = trained_plant.knrs[7]
    before = stored_predictions(client, knr).height
    response = client.post("/v1/predictions", json={"knr": knr})
    assert response.status_code == 200, response.text
    body = response.json()

    champion = load_champion(api_settings(home))
    warehouse: Warehouse = client.app.state.api.services.warehouse  # type: ignore[attr-defined]
    expected, groups = champion.score(warehouse.read_features([knr]), warehouse.read_events([knr]))
    assert body["probability"] == pytest.approx(float(expected[0]), abs=1e-9)
    assert body["decision"] == (body["probability"] >= champion.threshold)
    assert body["threshold"] == pytest.approx(champion.threshold)
    assert body["model_version"] == trained_plant.version
    assert body["source"] == "knr"
    assert 0.0 <= body["risk_percentile"] <= 100.0
    assert body["features_as_of"] is not None
    assert body["elapsed_ms"] > 0

    probabilities = [g["probability"] for g in body["failure_groups"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert probabilities[0] == pytest.approx(float(groups[0].max()))
    assert all(g["checks"] for g in body["failure_groups"])

    stored = stored_predictions(client, knr)
    assert stored.height == before + 1
    latest = stored.sort("predicted_at").row(-1, named=True)
    assert latest["probability"] == pytest.approx(body["probability"], abs=1e-12)
    assert latest["model_version"] == trained_plant.version
    assert latest["decision"] == body["decision"]


def test_prediction_from_partner_rows_equals_prediction_by_knr(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    knr = trained_plant.knrs[3]
    by_knr = client.post("/v1/predictions", json={"knr": knr}).json()
    rows = vehicle_rows(trained_plant.plant, knr)
    response = client.post("/v1/predictions", json={"rows": rows})
    assert response.status_code == 200, response.text
    by_rows = response.json()
    assert by_rows["source"] == "rows"
    assert by_rows["knr"] == knr
    assert by_rows["probability"] == pytest.approx(by_knr["probability"], abs=1e-6)
    assert by_rows["features_as_of"] == by_knr["features_as_of"]


def test_rows_that_cannot_be_read_are_reported_and_the_rest_scored(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    knr = trained_plant.knrs[5]
    rows = vehicle_rows(trained_plant.plant, knr)
    rows["RESULTADOS"][1]["STATUS"] = "99"
    rows["STATUS"][0]["DATA"] = "yesterday"
    response = client.post("/v1/predictions", json={"rows": rows})
    assert response.status_code == 200, response.text
    quarantined = response.json()["quarantined_rows"]
    assert {(q["table"], q["row"]) for q in quarantined} == {("RESULTADOS", 1), ("STATUS", 0)}
    assert all(q["reason"] for q in quarantined)


def test_rows_with_nothing_usable_answer_422_with_the_reason_of_each_row(
    client: TestClient,
) -> None:
    rows = {
        "STATUS": [
            {"KNR": "2024-1234567", "STATUS": "R750", "DATA": "not a time"},
            {"KNR": "2024-1234567", "STATUS": "r7", "DATA": "2024-01-02 06:00:00"},
        ]
    }
    response = client.post("/v1/predictions", json={"rows": rows})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [error["loc"] for error in detail] == [
        ["body", "rows", "STATUS", 0],
        ["body", "rows", "STATUS", 1],
    ]
    assert "not a date and time" in detail[0]["msg"]
    assert "rail-sensor code" in detail[1]["msg"]

    batch = client.post("/v1/predictions/batch", json={"vehicles": [{"rows": rows}]}).json()
    error = batch["items"][0]["error"]
    assert error["status"] == 422
    assert [e["loc"] for e in error["errors"]] == [["rows", "STATUS", 0], ["rows", "STATUS", 1]]


def test_unusable_rows_are_answered_without_the_warehouse(trained_plant: TrainedPlant) -> None:
    """Nothing to read or store: the 422 does not depend on the warehouse being reachable."""
    from roadtest.serving.metrics import ApiMetrics
    from roadtest.serving.model_holder import Served
    from roadtest.serving.predictor import Predictor
    from roadtest.serving.schemas import ItemError, VehicleInput
    from roadtest.warehouse import connect

    unreachable = connect("postgresql+psycopg://nobody@127.0.0.1:9/none")  # discard port
    model = load_champion(api_settings(trained_plant.home))
    holder = SimpleNamespace(served=Served(model, np.empty(0)))
    predictor = Predictor(unreachable, holder, ApiMetrics())  # type: ignore[arg-type]
    rows = {"STATUS": [{"KNR": "2024-1234567", "STATUS": "R750", "DATA": "not a time"}]}
    _, results = predictor.predict([VehicleInput.model_validate({"rows": rows})], 0.0)
    assert isinstance(results[0], ItemError)
    assert results[0].status == 422
    with pytest.raises(sa.exc.OperationalError):  # the same warehouse, once needed, is down
        predictor.predict([VehicleInput(knr=trained_plant.knrs[0])], 0.0)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"knr": "2024-123"}, ["body", "knr"]),
        ({}, ["body"]),
        ({"knr": "2024-1234567", "rows": {"STATUS": []}}, ["body"]),
        ({"rows": {"STATUS": [{"KNR": "2024-1234567", "STATUS": "R750"}]}}, ["body", "rows"]),
        ({"rows": {"STATUS": []}}, ["body", "rows"]),
        ({"knr": "2024-1234567", "extra": 1}, ["body", "extra"]),
    ],
)
def test_invalid_bodies_get_422_with_the_offending_field(
    client: TestClient, body: dict[str, Any], where: list[str]
) -> None:
    response = client.post("/v1/predictions", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(error["loc"][: len(where)] == where for error in detail), detail
    assert all(error["msg"] for error in detail)


def test_rows_of_two_vehicles_are_refused(client: TestClient) -> None:
    rows = {
        "STATUS": [
            {"KNR": "2024-1234567", "STATUS": "R750", "DATA": "2024-01-02 06:00:00"},
            {"KNR": "2024-7654321", "STATUS": "R750", "DATA": "2024-01-02 06:01:00"},
        ]
    }
    response = client.post("/v1/predictions", json={"rows": rows})
    assert response.status_code == 422
    assert "share one KNR" in json.dumps(response.json())


def test_unknown_knr_is_404_with_a_request_id(client: TestClient) -> None:
    response = client.post("/v1/predictions", json={"knr": "2099-0000001"})
    assert response.status_code == 404
    body = response.json()
    assert "2099-0000001" in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]


def test_batch_answers_each_vehicle_in_order(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    knrs = list(trained_plant.knrs[:20])
    vehicles: list[dict[str, Any]] = [{"knr": k} for k in knrs]
    vehicles.insert(4, {"knr": "2099-0000002"})
    vehicles.append({"knr": knrs[0]})
    vehicles.append({"rows": vehicle_rows(trained_plant.plant, knrs[1])})
    response = client.post("/v1/predictions/batch", json={"vehicles": vehicles})
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"]
    assert [item["index"] for item in items] == list(range(len(vehicles)))
    assert items[4]["prediction"] is None
    assert items[4]["error"]["status"] == 404
    assert body["n_failed"] == 1
    assert body["n_predicted"] == len(vehicles) - 1
    predicted = [item["prediction"] for item in items if item["prediction"] is not None]
    assert [p["knr"] for p in predicted] == [*knrs, knrs[0], knrs[1]]
    assert predicted[-2]["probability"] == predicted[0]["probability"]
    assert predicted[-1]["probability"] == pytest.approx(predicted[1]["probability"], abs=1e-6)

    single = client.post("/v1/predictions", json={"knr": knrs[9]}).json()
    assert predicted[9]["probability"] == pytest.approx(single["probability"], abs=1e-6)


def test_every_prediction_of_a_batch_is_stored_even_a_repeated_knr(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    knr = trained_plant.knrs[11]
    before = stored_predictions(client, knr).height
    response = client.post("/v1/predictions/batch", json={"vehicles": [{"knr": knr}] * 3})
    assert response.status_code == 200
    stored = stored_predictions(client, knr).sort("predicted_at")
    assert stored.height == before + 3
    answered = [item["prediction"]["predicted_at"] for item in response.json()["items"]]
    assert len(set(answered)) == 3
    stored_instants = [t.isoformat().replace("+00:00", "Z") for t in stored["predicted_at"]]
    assert stored_instants[-3:] == answered


def test_batch_over_the_size_limit_is_refused(client: TestClient) -> None:
    vehicles = [{"knr": "2024-1234567"}] * 501
    response = client.post("/v1/predictions/batch", json={"vehicles": vehicles})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "vehicles"]


def test_vehicle_prediction_serves_the_stored_one_or_computes_it(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    fresh = trained_plant.knrs[-1]
    assert stored_predictions(client, fresh).height == 0
    computed = client.get(f"/v1/vehicles/{fresh}/prediction").json()
    assert computed["source"] == "knr"
    assert stored_predictions(client, fresh).height == 1

    again = client.get(f"/v1/vehicles/{fresh}/prediction").json()
    assert again["source"] == "stored"
    assert again["probability"] == computed["probability"]
    assert again["predicted_at"] == computed["predicted_at"]
    assert again["risk_percentile"] == computed["risk_percentile"]

    refreshed = client.get(f"/v1/vehicles/{fresh}/prediction", params={"refresh": True}).json()
    assert refreshed["source"] == "knr"
    assert refreshed["predicted_at"] > computed["predicted_at"]
    assert client.get("/v1/vehicles/2099-0000003/prediction").status_code == 404
    assert client.get("/v1/vehicles/not-a-knr/prediction").status_code == 422


def test_risk_percentile_ranks_against_recent_vehicles(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    batch = client.post(
        "/v1/predictions/batch", json={"vehicles": [{"knr": k} for k in trained_plant.knrs]}
    ).json()
    predictions = [item["prediction"] for item in batch["items"]]
    riskiest = max(predictions, key=lambda p: p["probability"])
    safest = min(predictions, key=lambda p: p["probability"])
    assert riskiest["risk_percentile"] == 100.0
    assert safest["risk_percentile"] < 5.0
    ordered = sorted(predictions, key=lambda p: p["probability"])
    percentiles = [p["risk_percentile"] for p in ordered]
    assert percentiles == sorted(percentiles)


def test_metrics_count_requests_per_route_scores_and_champion(
    client: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    client.post("/v1/predictions", json={"knr": trained_plant.knrs[0]})
    text = client.get("/v1/metrics").text
    assert (
        'roadtest_http_requests_total{method="POST",route="/v1/predictions",status="200"}' in text
    )
    assert (
        'roadtest_http_request_duration_seconds_bucket{le="0.025",method="POST",route="/v1/predictions"}'
        in text
    )
    assert f'roadtest_champion_info{{version="{trained_plant.version}"}} 1.0' in text
    assert "roadtest_model_load_errors_total 0.0" in text
    count = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("roadtest_prediction_probability_count")
    )
    assert count >= 1


def test_each_request_is_logged_as_json_with_its_request_id(
    client: TestClient,
    trained_plant: TrainedPlant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="roadtest.api"):
        response = client.post(
            "/v1/predictions",
            json={"knr": trained_plant.knrs[0]},
            headers={"X-Request-ID": "plant-call-42"},
        )
    assert response.headers["x-request-id"] == "plant-call-42"
    record = next(r for r in caplog.records if getattr(r, "request_id", None) == "plant-call-42")
    assert record.route == "/v1/predictions"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    from roadtest.serving.logs import JsonFormatter

    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "plant-call-42"
    assert line["duration_ms"] > 0


def test_openapi_documents_every_endpoint_with_examples(client: TestClient) -> None:
    schema = client.get("/v1/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/v1/predictions",
        "/v1/predictions/batch",
        "/v1/vehicles/{knr}/prediction",
        "/v1/models",
        "/v1/models/{version}",
        "/v1/models/{version}/promote",
        "/v1/ingest",
        "/v1/training-runs",
        "/v1/training-runs/{run_id}",
        "/v1/health",
        "/v1/ready",
        "/v1/metrics",
    } <= paths
    components = schema["components"]["schemas"]
    assert components["VehicleInput"]["examples"]
    assert components["ResultadosRow"]["examples"][0]["NAME"] == "012001"
    assert components["Prediction"]["examples"]


@pytest.mark.postgres
def test_request_mart_reads_equal_the_bulk_reads_on_both_backends(
    home: Path, trained_plant: TrainedPlant, postgres_url: str
) -> None:
    from roadtest.features.sequence import EVENT_COLUMNS
    from roadtest.serving.marts import read_marts
    from roadtest.warehouse import connect
    from roadtest.warehouse.backends import FEW_ROWS

    knrs = list(trained_plant.knrs[:3])
    duck = Warehouse.from_settings(api_settings(home))
    postgres = connect(postgres_url)
    postgres.migrate()
    with postgres.transaction() as tx:
        tx.append_rows("mart_vehicle_features", duck.read_features(knrs))
        tx.append_rows("mart_vehicle_events", duck.read_events(knrs))
    try:
        for warehouse in (duck, postgres):
            with warehouse.transaction() as tx:
                features, events = read_marts(tx, [knrs[2], knrs[0], knrs[2]])
            # Staged (bulk) reads: the two KNRs padded with more unknown ones than get bound.
            padded = [knrs[0], knrs[2], *(f"2099-{n:07d}" for n in range(FEW_ROWS + 1))]
            expected_features = warehouse.read_features(padded)
            expected_events = warehouse.read_table(
                "mart_vehicle_events", {"knr": padded}, EVENT_COLUMNS
            )
            assert features.equals(expected_features)
            assert events.equals(expected_events)
            assert events.height > 0
    finally:
        postgres.dispose()
        duck.dispose()


@pytest.mark.postgres
def test_a_prediction_colliding_with_a_stored_key_is_stored_a_microsecond_later(
    trained_plant: TrainedPlant, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker stored the same KNR at the same instant (PostgreSQL enforces the key):
    the request's transaction is rolled back and its prediction stored just after."""
    from roadtest.serving.metrics import ApiMetrics
    from roadtest.serving.model_holder import Served
    from roadtest.serving.predictor import Predictor
    from roadtest.serving.schemas import VehicleInput
    from roadtest.warehouse import connect

    knr, instant = trained_plant.knrs[0], datetime(2030, 1, 1, tzinfo=UTC)
    duck = Warehouse.from_settings(api_settings(trained_plant.home))
    postgres = connect(postgres_url)
    postgres.migrate()
    with postgres.transaction() as tx:
        tx.append_rows("mart_vehicle_features", duck.read_features([knr]))
        tx.append_rows("mart_vehicle_events", duck.read_events([knr]))
    duck.dispose()
    model = load_champion(api_settings(trained_plant.home))
    holder = SimpleNamespace(served=Served(model, np.empty(0)))
    predictor = Predictor(postgres, holder, ApiMetrics())  # type: ignore[arg-type]
    try:
        postgres.record_prediction(knr, model.version, 0.5, True, predicted_at=instant)
        monkeypatch.setattr("roadtest.serving.predictor.utc_now", lambda: instant)
        _, results = predictor.predict([VehicleInput(knr=knr)], 0.0)
        prediction = results[0]
        assert isinstance(prediction, Prediction)
        later = instant + timedelta(microseconds=1)
        assert prediction.predicted_at == later
        stored = postgres.read_predictions([knr]).sort("predicted_at")
        assert stored["predicted_at"].to_list() == [instant, later]
        assert stored["probability"].to_list() == [0.5, prediction.probability]
    finally:
        postgres.dispose()


def test_a_warehouse_locked_by_another_process_answers_503_not_500(
    client: TestClient, home: Path, trained_plant: TrainedPlant
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
            "sys.stdin.read()",
            str(home / "warehouse.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        response = client.post("/v1/predictions", json={"knr": trained_plant.knrs[0]})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert "locked by another process" in response.json()["detail"]
        ready = client.get("/v1/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["warehouse"]["ok"] is False
    finally:
        holder.communicate("", timeout=30)
    assert client.post("/v1/predictions", json={"knr": trained_plant.knrs[0]}).status_code == 200
