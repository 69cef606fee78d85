"""Smoke scenario of the container stage (run by scripts/container_stage.sh, not by the suite).

The built images are started with compose on free ports of 127.0.0.1; a small
simulated plant goes in through the API's upload endpoint (lake → ETL), a small
model is trained through POST /v1/training-runs (queued by the API, run by the
worker's orchestrator), the API scores a vehicle with it, and the dashboard
answers. The stack is always torn down, volumes included. It needs a
Docker daemon (DOCKER_HOST) with the roadtest/* images built, which is why it is
not collected with the unit and integration tests.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest

from roadtest.serving.keys import hash_api_key, new_api_key

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SERVICES = ("postgres", "seaweedfs", "mlflow", "api", "dashboard", "worker", "monitor")
HEALTHY_TIMEOUT_S = 300.0
MODEL_TIMEOUT_S = 120.0
TRAINING_TIMEOUT_S = 600.0
"""A queued run waits for the sensor (10 s), Dagster's run launch, then the training itself."""
PORT_NAMES = (
    "API",
    "DASHBOARD",
    "DAGSTER",
    "MLFLOW",
    "METRICS",
    "POSTGRES",
    "S3",
    "SEAWEEDFS_MASTER",
    "SEAWEEDFS_VOLUME",
    "SEAWEEDFS_FILER",
    "SEAWEEDFS_ADMIN",
)


@dataclass(frozen=True)
class Stack:
    """A running compose project and how to reach it."""

    project: str
    env_file: Path
    ports: dict[str, int]
    api_key: str
    started_s: float

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run docker-compose on this project."""
        return run_compose(self.project, self.env_file, *args, check=check)

    def url(self, name: str, path: str) -> str:
        """URL of a service's port on 127.0.0.1."""
        return f"http://{HOST}:{self.ports[name]}{path}"


def run_compose(
    project: str, env_file: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """docker-compose with the repository's compose file and the test's env file."""
    command = [
        "docker-compose",
        "--env-file",
        str(env_file),
        "-p",
        project,
        "-f",
        str(REPO / "compose.yaml"),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command[5:])} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def free_ports(names: tuple[str, ...]) -> dict[str, int]:
    """Distinct free ports whose +10000 twin is free too (SeaweedFS's gRPC ports use it)."""
    chosen: dict[str, int] = {}
    while len(chosen) < len(names):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        taken = set(chosen.values()) | {p + 10000 for p in chosen.values()}
        if port + 10000 < 65536 and port not in taken and port_is_free(port + 10000):
            chosen[names[len(chosen)]] = port
    return chosen


def port_is_free(port: int) -> bool:
    """Whether nothing listens on this port of 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def write_env_file(path: Path, ports: dict[str, int], api_key: str) -> None:
    """The stack's env file: fresh secrets, the free ports, quick health checks and model polls."""
    values = {
        "ROADTEST_DB_PASSWORD": secrets.token_hex(16),
        "ROADTEST_S3_ACCESS_KEY_ID": "smoke",
        "ROADTEST_S3_SECRET_ACCESS_KEY": secrets.token_hex(16),
        "ROADTEST_API_KEY_HASHES": hash_api_key(api_key),
        "ROADTEST_IMAGE_TAG": os.environ.get("ROADTEST_IMAGE_TAG", "local"),
        "ROADTEST_API_MODEL_POLL_SECONDS": "2",
        "ROADTEST_HEALTHCHECK_INTERVAL": "2s",
        **{f"ROADTEST_{name}_PORT": str(port) for name, port in ports.items()},
    }
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))


def health_of(stack: Stack) -> dict[str, str]:
    """Each service's container state and health, from one `docker ps` (compose labels)."""
    listed = subprocess.run(
        [
            os.environ.get("DOCKER", "docker"),
            "ps",
            "--all",
            "--filter",
            f"label=com.docker.compose.project={stack.project}",
            "--format",
            '{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    states = dict.fromkeys(SERVICES, "missing")
    for line in listed.splitlines():
        service, state, status = line.split("\t")
        health = status[status.rfind("(") + 1 : -1] if status.endswith(")") else "no health"
        states[service] = f"{state}/{health}"
    return states


def wait_until_healthy(stack: Stack) -> None:
    """Poll until every service is healthy; fail with the states and logs otherwise."""
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    states: dict[str, str] = {}
    healthy_at: dict[str, float] = {}
    while time.monotonic() < deadline:
        states = health_of(stack)
        for service, state in states.items():
            if state == "running/healthy" and service not in healthy_at:
                healthy_at[service] = time.monotonic() - stack.started_s
        if len(healthy_at) == len(SERVICES):
            order = ", ".join(
                f"{s} {t:.0f} s" for s, t in sorted(healthy_at.items(), key=lambda i: i[1])
            )
            report(f"healthy after up: {order}")
            return
        broken = [s for s, state in states.items() if state.startswith(("exited", "dead"))]
        if broken:
            break
        time.sleep(2)
    logs = stack.compose("logs", "--no-color", "--tail", "40", check=False).stdout
    raise AssertionError(f"the stack did not become healthy: {states}\n{logs[-12000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole platform, started from the built images and torn down (with volumes) after."""
    folder = tmp_path_factory.mktemp("stack")
    ports = free_ports(PORT_NAMES)
    api_key = new_api_key()
    env_file = folder / "stack.env"
    write_env_file(env_file, ports, api_key)
    project = f"roadtest-smoke-{secrets.token_hex(4)}"
    run_compose(project, env_file, "config", "-q")
    started = time.monotonic()
    running = Stack(project, env_file, ports, api_key, started)
    try:
        running.compose("up", "-d")
        wait_until_healthy(running)
        report(f"stack start-up (up -> all healthy): {time.monotonic() - started:.1f} s")
        yield running
    finally:
        down = running.compose("down", "-v", "--remove-orphans", check=False)
        if down.returncode != 0:
            report(f"docker-compose down failed:\n{down.stderr[-2000:]}")


def report(line: str) -> None:
    """Print a measurement into the stage's log (the stage runs pytest with -s)."""
    print(f"[container stage] {line}", flush=True)


def logs_of(stack: Stack, service: str) -> str:
    """The last lines a service logged, to explain a failed step."""
    return stack.compose("logs", "--no-color", "--tail", "60", service, check=False).stdout


def simulate_plant(folder: Path) -> tuple[list[Path], str]:
    """A small plant's three exports, made on the host with the project's own simulator,
    and the KNR of its newest vehicle."""
    roadtest = Path(sys.executable).parent / "roadtest"
    exports, truth = folder / "exports", folder / "truth"
    subprocess.run(
        [
            str(roadtest),
            "simulate",
            *("--vehicles", "300", "--seed", "11"),
            *("--out", str(exports), "--truth", str(truth)),
        ],
        check=True,
        capture_output=True,
    )
    files = sorted(exports.iterdir())
    assert len(files) == 3, files
    newest = str(pl.read_parquet(truth / "truth.parquet")["KNR"].sort()[-1])
    return files, newest


def train_through_the_api(client: httpx.Client, stack: Stack) -> dict[str, object]:
    """Start a small training run with the API and poll it until it ends; its final state."""
    started = client.post(
        stack.url("API", "/v1/training-runs"),
        json={"models": ["logreg", "gru"], "max_epochs": 2},
        headers={"X-API-Key": stack.api_key},
    )
    assert started.status_code == 202, started.text + logs_of(stack, "api")
    run: dict[str, object] = started.json()
    assert run["state"] == "queued", run
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    while run["state"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the training run did not finish in {TRAINING_TIMEOUT_S:.0f} s: {run}\n"
                + logs_of(stack, "worker")
            )
        time.sleep(3)
        response = client.get(stack.url("API", f"/v1/training-runs/{run['id']}"))
        assert response.status_code == 200, response.text + logs_of(stack, "api")
        run = response.json()
    assert run["state"] == "succeeded", f"{run}\n{logs_of(stack, 'worker')}"
    assert run["runner"] == "dagster", run
    return run


def wait_until_ready(client: httpx.Client, stack: Stack) -> dict[str, object]:
    """Poll the API's readiness until it serves the newly trained champion."""
    deadline = time.monotonic() + MODEL_TIMEOUT_S
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        response = client.get(stack.url("API", "/v1/ready"))
        body = response.json()
        if response.status_code == 200:
            return body
        time.sleep(2)
    raise AssertionError(f"the API never became ready with the trained model: {body}")


@pytest.mark.slow
def test_plant_goes_from_exports_to_predictions_in_containers(stack: Stack, tmp_path: Path) -> None:
    """Upload → ETL → train via the API in the worker → the API scores a KNR → the dashboard."""
    started = time.monotonic()
    exports, knr = simulate_plant(tmp_path)
    with httpx.Client(timeout=300.0) as client:
        files = [("files", (path.name, path.read_bytes(), "text/csv")) for path in exports]
        ingest = client.post(
            stack.url("API", "/v1/ingest"), files=files, headers={"X-API-Key": stack.api_key}
        )
        assert ingest.status_code == 200, ingest.text + logs_of(stack, "api")
        assert ingest.json()["ingest"]["ok"] and ingest.json()["etl"]["ok"], ingest.text

        training_started = time.monotonic()
        run = train_through_the_api(client, stack)
        report(
            f"training run {run['id']} (POST /v1/training-runs → succeeded in the worker): "
            f"{time.monotonic() - training_started:.1f} s, version {run['model_version']}"
        )

        ready = wait_until_ready(client, stack)
        assert ready["ready"] is True
        prediction = client.post(stack.url("API", "/v1/predictions"), json={"knr": knr})
        assert prediction.status_code == 200, prediction.text + logs_of(stack, "api")
        assert prediction.json()["knr"] == knr
        assert 0.0 <= prediction.json()["probability"] <= 1.0

        page = client.get(stack.url("DASHBOARD", "/"))
        assert page.status_code == 200
        assert "streamlit" in page.text.lower()
    report(
        f"smoke scenario (simulate → ingest → train → predict → dashboard): "
        f"{time.monotonic() - started:.1f} s"
    )


def test_the_orchestrator_keeps_its_runs_in_postgres(stack: Stack) -> None:
    """The worker's Dagster created its run and event tables in the `dagster` database."""
    query = (
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name IN ('runs', 'event_logs', 'jobs')"
    )
    tables = stack.compose(
        "exec",
        "-T",
        "postgres",
        "psql",
        "-h",
        "/var/run/postgresql",
        "-U",
        "postgres",
        "-d",
        "dagster",
        "-tAc",
        query,
    )
    assert tables.stdout.strip() == "3", tables.stdout + logs_of(stack, "worker")
    home = stack.compose("exec", "-T", "worker", "ls", "/var/lib/roadtest/dagster")
    assert ".db" not in home.stdout, home.stdout
