"""The monitor against real services: a uvicorn API, a DuckDB warehouse, dead ports.

Its rows must be what the dashboard's health page reads, a warehouse that is
down must not lose them, and its metrics must be served over HTTP.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from roadtest.cli import app
from roadtest.config import Settings
from roadtest.dashboard.data import health_summary
from roadtest.dashboard.sources import open_warehouse, read_health_history
from roadtest.monitor import Monitor
from roadtest.serving.app import create_app

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A real API (uvicorn, 127.0.0.1) over an empty HOME: alive, not ready (no champion)."""
    home = tmp_path_factory.mktemp("monitor") / "home"
    settings = Settings(home=home, api_model_poll_seconds=3600.0)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    try:
        yield home, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def monitor_settings(home: Path, api_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": home,
        "api_url": api_url,
        "dashboard_url": f"http://127.0.0.1:{free_port()}",
        "monitor_timeout_seconds": 5.0,
        "monitor_unhealthy_after": 2,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_a_round_records_every_service_where_the_health_page_reads_it(
    api_home: tuple[Path, str],
) -> None:
    home, api_url = api_home
    monitor = Monitor.from_settings(monitor_settings(home, api_url))
    first = monitor.run_round()
    second = monitor.run_round()
    outcome = {r.service: r for r in second.results}
    assert list(outcome) == ["api", "api_ready", "dashboard", "warehouse", "lake", "registry"]
    assert outcome["api"].ok and outcome["api"].detail == "ok"
    assert not outcome["api_ready"].ok and outcome["api_ready"].detail.startswith("not ready: ")
    assert "model" in outcome["api_ready"].detail
    assert not outcome["dashboard"].ok and "cannot reach" in outcome["dashboard"].detail
    assert outcome["warehouse"].ok and outcome["warehouse"].detail == "duckdb answers"
    assert outcome["lake"].ok
    assert first.unhealthy == []
    assert set(second.unhealthy) >= {"api_ready", "dashboard"}
    assert "api" not in second.unhealthy
    assert (first.write.written, second.write.written) == (6, 6)
    warehouse = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        history = read_health_history(warehouse)
    finally:
        warehouse.dispose()
    assert history is not None and history.height >= 12
    summary = {row["service"]: row for row in health_summary(history).iter_rows(named=True)}
    assert summary["api"]["ok_share"] == 1.0
    assert summary["dashboard"]["ok_share"] == 0.0
    text = monitor.metrics.render().decode()
    assert 'roadtest_service_up{service="api"} 1.0' in text
    assert 'roadtest_service_unhealthy{service="dashboard"} 1.0' in text


def test_checks_wait_in_memory_while_the_warehouse_is_locked_and_are_written_after(
    api_home: tuple[Path, str], tmp_path: Path
) -> None:
    _, api_url = api_home
    home = tmp_path / "home"
    home.mkdir()
    database = home / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('held', flush=True); time.sleep(120)",
            str(database),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monitor = Monitor.from_settings(monitor_settings(home, api_url))
        locked = monitor.run_round()
        assert locked.write.written == 0 and locked.write.pending == len(locked.results)
        assert locked.write.error is not None
    finally:
        holder.kill()
        holder.wait()
    back = monitor.run_round()
    assert back.write.written == 2 * len(locked.results) and back.write.pending == 0
    warehouse = open_warehouse(f"duckdb:///{database}")
    try:
        history = read_health_history(warehouse)
    finally:
        warehouse.dispose()
    assert history is not None
    assert history.height == 2 * len(locked.results)


def test_a_dead_warehouse_server_is_a_failed_check_and_keeps_results_bounded(
    tmp_path: Path,
) -> None:
    dead = f"postgresql+psycopg://roadtest@127.0.0.1:{free_port()}/roadtest"
    settings = Settings(
        home=tmp_path,
        warehouse_url=dead,
        monitor_timeout_seconds=3.0,
        monitor_buffer_rows=5,
    )
    monitor = Monitor.from_settings(settings)
    report = monitor.run_round()
    warehouse = next(r for r in report.results if r.service == "warehouse")
    assert not warehouse.ok and warehouse.detail.startswith("postgresql does not answer")
    assert report.write.pending == len(report.results) == 3
    again = monitor.run_round()
    assert again.write.pending == 5 and again.write.dropped == 1
    assert "roadtest_health_checks_dropped_total 1.0" in monitor.metrics.render().decode()


def test_the_metrics_are_served_over_http(api_home: tuple[Path, str]) -> None:
    home, api_url = api_home
    monitor = Monitor.from_settings(monitor_settings(home, api_url))
    monitor.run_round()
    port = free_port()
    server = monitor.metrics.serve("127.0.0.1", port)
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    assert 'roadtest_service_up{service="api"} 1.0' in body
    assert "# TYPE roadtest_job_last_success_timestamp_seconds gauge" in body


def test_monitor_once_prints_a_json_round_and_exits_1_when_a_service_is_down(
    api_home: tuple[Path, str], tmp_path: Path
) -> None:
    _, api_url = api_home
    env = {
        "ROADTEST_HOME": str(tmp_path),
        "ROADTEST_API_URL": api_url,
        "ROADTEST_DASHBOARD_URL": f"http://127.0.0.1:{free_port()}",
    }
    result = CliRunner().invoke(app, ["monitor", "--once", "--json"], env=env)
    assert result.exit_code == 1, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    services = {c["service"]: c["ok"] for c in line["checks"]}
    assert services["api"] is True and services["dashboard"] is False
    assert line["written"] == len(line["checks"])


def test_monitor_refuses_a_bad_setting_with_the_variable_named(tmp_path: Path) -> None:
    env = {"ROADTEST_HOME": str(tmp_path), "ROADTEST_MONITOR_INTERVAL_SECONDS": "0"}
    result = CliRunner().invoke(app, ["monitor", "--once"], env=env)
    assert result.exit_code == 2
    assert "ROADTEST_MONITOR_INTERVAL_SECONDS" in result.output
