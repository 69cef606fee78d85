"""API keys, read auth, size limits, CORS and secrets kept out of responses and logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from roadtest.serving import create_app
from roadtest.serving.keys import hash_api_key, new_api_key
from roadtest.serving.security import Access, KeyChecker
from roadtest.serving.services import Redactor
from tests.integration.test_api_support import (  # noqa: F401
    READ_KEY,
    WRITE_KEY,
    TrainedPlant,
    api_settings,
    copy_home,
    trained_plant_fixture,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(trained_plant: TrainedPlant, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(trained_plant, tmp_path_factory.mktemp("api_security") / "home")


@pytest.fixture(scope="module")
def locked(home: Path) -> Iterator[TestClient]:
    """An API that wants a key for reads too, with small size limits and one CORS origin."""
    settings = api_settings(
        home,
        api_read_auth=True,
        api_max_body_bytes=4096,
        api_max_upload_bytes=8192,
        api_cors_origins=["https://dashboard.plant.example"],
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def open_api(home: Path) -> Iterator[TestClient]:
    """The default: reads open, writes need a key, no CORS."""
    with TestClient(create_app(api_settings(home))) as client:
        yield client


def test_key_checker_grants_by_role_and_refuses_unknown_keys() -> None:
    write, read = new_api_key(), new_api_key()
    checker = KeyChecker([hash_api_key(write)], [hash_api_key(read)], read_auth=True)
    assert checker.role_of(write) is Access.WRITE
    assert checker.role_of(read) is Access.READ
    assert checker.role_of(read + "x") is None
    assert checker.role_of(hash_api_key(write)) is None
    checker.authorize(read, Access.READ)
    checker.authorize(write, Access.WRITE)


def test_settings_refuse_a_key_in_clear_without_echoing_it() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as error:
        api_settings(Path("."), api_key_hashes=["my-secret-key"])
    assert "my-secret-key" not in str(error.value)
    assert "SHA-256" in str(error.value)


def test_writes_need_a_write_key(open_api: TestClient) -> None:
    no_key = open_api.post("/v1/models/1/promote")
    assert no_key.status_code == 401
    assert "X-API-Key" in no_key.json()["detail"]
    assert no_key.headers["www-authenticate"] == "ApiKey"

    wrong = open_api.post("/v1/models/1/promote", headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401
    assert "not recognised" in wrong.json()["detail"]

    read_only = open_api.post("/v1/training-runs", headers={"X-API-Key": READ_KEY}, json={})
    assert read_only.status_code == 403
    assert "may only read" in read_only.json()["detail"]

    upload = open_api.post(
        "/v1/ingest",
        files={"files": ("x.csv", b"KNR;STATUS;DATA\n")},
        headers={"X-API-Key": READ_KEY},
    )
    assert upload.status_code == 403


def test_reads_are_open_by_default_and_keyed_when_read_auth_is_on(
    open_api: TestClient,
    locked: TestClient,
    trained_plant: TrainedPlant,
) -> None:
    body = {"knr": trained_plant.knrs[0]}
    assert open_api.post("/v1/predictions", json=body).status_code == 200
    assert locked.post("/v1/predictions", json=body).status_code == 401
    assert locked.get("/v1/models").status_code == 401
    for key in (READ_KEY, WRITE_KEY):
        assert (
            locked.post("/v1/predictions", json=body, headers={"X-API-Key": key}).status_code == 200
        )
    assert locked.get("/v1/health").status_code == 200


def test_keys_never_reach_responses_or_logs(
    open_api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        responses = [
            open_api.post("/v1/models/1/promote", headers={"X-API-Key": "wrong-" + WRITE_KEY}),
            open_api.post("/v1/training-runs", headers={"X-API-Key": READ_KEY}, json={}),
            open_api.get("/v1/models/999", headers={"X-API-Key": WRITE_KEY}),
        ]
    for response in responses:
        assert WRITE_KEY not in response.text
        assert READ_KEY not in response.text
        assert hash_api_key(WRITE_KEY) not in response.text
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert WRITE_KEY not in logged
    assert READ_KEY not in logged


def test_redactor_removes_passwords_and_s3_secrets() -> None:
    settings = api_settings(
        Path("."),
        warehouse_url="postgresql+psycopg://roadtest:pa55word@127.0.0.1/wh",
        s3_secret_access_key=SecretStr("s3-secret-value"),
    )
    text = "could not connect with pa55word; S3 said s3-secret-value was wrong"
    cleaned = Redactor(settings).clean(text)
    assert "pa55word" not in cleaned
    assert "s3-secret-value" not in cleaned
    assert cleaned.count("***") == 2


def test_oversized_bodies_get_413(locked: TestClient) -> None:
    headers = {"X-API-Key": READ_KEY}
    big = {"knr": "2024-1234567", "padding": "x" * 5000}
    response = locked.post("/v1/predictions", json=big, headers=headers)
    assert response.status_code == 413
    assert "4,096 bytes" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:
        yield b'{"knr": "2024-1234567", "pad": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    streamed = locked.post(
        "/v1/predictions",
        content=chunks(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


def test_uploads_have_their_own_limit(locked: TestClient) -> None:
    headers = {"X-API-Key": WRITE_KEY}
    small = locked.post("/v1/ingest", files={"files": ("notes.txt", b"x" * 5000)}, headers=headers)
    assert small.status_code == 200, small.text
    assert small.json()["ingest"]["files"][0]["outcome"] == "rejected"
    large = locked.post("/v1/ingest", files={"files": ("big.csv", b"x" * 9000)}, headers=headers)
    assert large.status_code == 413


def test_cors_allows_only_the_configured_origin(locked: TestClient, open_api: TestClient) -> None:
    allowed = "https://dashboard.plant.example"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-API-Key",
    }
    ok = locked.options("/v1/predictions", headers={"Origin": allowed, **preflight})
    assert ok.headers["access-control-allow-origin"] == allowed
    other = locked.options(
        "/v1/predictions", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    plain = open_api.get("/v1/health", headers={"Origin": allowed})
    assert "access-control-allow-origin" not in plain.headers
