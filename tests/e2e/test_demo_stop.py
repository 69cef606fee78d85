"""The demo's servers stop with it, whether it gets Ctrl+C or a SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 40.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_demo_servers(home: Path, api_port: int, dashboard_port: int) -> subprocess.Popen[bytes]:
    code = (
        "from roadtest.cli import serve_demo; from roadtest.config import Settings; "
        f"serve_demo(Settings(), {api_port}, {dashboard_port})"
    )
    env = {**os.environ, "ROADTEST_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-c", code], env=env)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_demo_leaves_no_server_running(tmp_path: Path, stop_signal: int) -> None:
    api_port, dashboard_port = _free_port(), _free_port()
    demo = _start_demo_servers(tmp_path, api_port, dashboard_port)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        urls = (
            f"http://127.0.0.1:{api_port}/v1/health",
            f"http://127.0.0.1:{dashboard_port}/_stcore/health",
        )
        while not all(_answers(url) for url in urls):
            assert demo.poll() is None, "the demo stopped before its servers answered"
            assert time.monotonic() < deadline, "the demo's servers did not start in time"
            time.sleep(0.5)
        demo.send_signal(stop_signal)
        assert demo.wait(timeout=STOP_TIMEOUT_S) == 0
        assert not _listening(api_port), "the API outlived the demo"
        assert not _listening(dashboard_port), "the dashboard outlived the demo"
    finally:
        if demo.poll() is None:
            demo.kill()
