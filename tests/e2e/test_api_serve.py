"""``roadtest serve``: a real uvicorn process on 127.0.0.1, its JSON logs and its refusals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from roadtest.cli import app
from roadtest.serving.keys import hash_api_key
from tests.integration.test_api_support import (  # noqa: F401
    WRITE_KEY,
    TrainedPlant,
    copy_home,
    trained_plant_fixture,
)

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADTEST_")}
    return {**env, "ROADTEST_HOME": str(home), "ROADTEST_API_KEY_HASHES": hash_api_key(WRITE_KEY)}


def test_serve_answers_over_http_and_logs_json_lines_with_the_request_id(
    trained_plant: TrainedPlant,
    tmp_path: Path,
) -> None:
    home = copy_home(trained_plant, tmp_path / "home")
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "roadtest", "serve", "--port", str(port)],
        env=serve_env(home),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not become ready"
            time.sleep(0.5)
        response = httpx.post(
            f"{base}/predictions",
            json={"knr": trained_plant.knrs[0]},
            headers={"X-Request-ID": "serve-test-1", "X-API-Key": WRITE_KEY},
        )
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "serve-test-1"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    lines = [
        json.loads(line)
        for line in (tmp_path / "serve.log").read_text().splitlines()
        if line.startswith("{")
    ]
    request_line = next(line for line in lines if line.get("request_id") == "serve-test-1")
    assert request_line["route"] == "/v1/predictions"
    assert request_line["status"] == 200
    assert request_line["level"] == "info"
    assert any(line.get("message") == "model serving" for line in lines)
    assert all(WRITE_KEY not in json.dumps(line) for line in lines)


def test_serve_refuses_several_workers_on_a_duckdb_warehouse(tmp_path: Path) -> None:
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ROADTEST_")}
    result = CliRunner().invoke(
        app,
        ["serve", "--workers", "2", "--port", str(free_port())],
        env={**unset, "ROADTEST_HOME": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output
