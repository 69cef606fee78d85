"""The Data page's actions against a real API: upload exports, start a retraining, with a key.

The API serves a copy of the populated home from a uvicorn server on a free
local port (in a thread of this process); the dashboard reads the original
home, so each DuckDB file has one kind of user, as in a deployment where the
API and the dashboard share nothing but HTTP.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import uvicorn
from streamlit.testing.v1 import AppTest

from roadtest.config import Settings
from roadtest.dashboard.api_client import ApiClient, ApiRefusedError, ApiUnavailableError
from roadtest.dashboard.i18n import translate
from roadtest.lake import Lake
from roadtest.serving import create_app
from roadtest.serving.keys import hash_api_key
from tests.integration.test_dashboard_support import DashboardHome, dashboard_home

__all__ = ["dashboard_home"]

WRITE_KEY: Final = "dashboard-test-write-key-4f1c"
SCRIPT: Final = "from roadtest.dashboard.app import run_page\nrun_page('data')\n"
TRAINING_TIMEOUT_S: Final = 300

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def api_home(dashboard_home: DashboardHome, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the populated home for the API to change."""
    return Path(shutil.copytree(dashboard_home.home, tmp_path_factory.mktemp("api") / "home"))


@pytest.fixture(scope="module")
def api_url(api_home: Path) -> Iterator[str]:
    """The roadtest API over ``api_home``, accepting ``WRITE_KEY``."""
    settings = Settings(
        home=api_home, api_key_hashes=[hash_api_key(WRITE_KEY)], api_model_poll_seconds=3600.0
    )
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def data_page(
    monkeypatch: pytest.MonkeyPatch, dashboard_home: DashboardHome, api_url: str
) -> Iterator[Any]:
    """``data_page(key=None)`` → the Data page after one run, pointed at the API."""
    monkeypatch.setenv("ROADTEST_HOME", str(dashboard_home.home))
    monkeypatch.setenv("ROADTEST_API_URL", api_url)
    monkeypatch.delenv("ROADTEST_API_KEY", raising=False)

    def run(key: str | None = None) -> AppTest:
        if key is not None:
            monkeypatch.setenv("ROADTEST_API_KEY", key)
        return AppTest.from_string(SCRIPT, default_timeout=300).run()

    yield run


def t(key: str, **values: Any) -> str:
    return translate(key, "pt-BR", **values)


def _submit(app: AppTest, label_key: str) -> AppTest:
    button = next(b for b in app.button if b.label == t(label_key))
    return button.click().run()


def _future_status(dashboard_home: DashboardHome) -> tuple[str, bytes, str]:
    path = next(dashboard_home.future.glob("STATUS_*.parquet"))
    return (path.name, path.read_bytes(), "application/octet-stream")


def test_upload_goes_through_the_api_with_the_typed_key(
    data_page: Any, dashboard_home: DashboardHome, api_home: Path
) -> None:
    before = Lake.from_settings(Settings(home=api_home)).read_manifest().height
    app = data_page()
    app.text_input(key="api_key").set_value(WRITE_KEY)
    app.file_uploader(key="uploads").set_value(_future_status(dashboard_home))
    app = _submit(app, "data.upload_send")
    assert not app.exception and not app.error, [e.value for e in app.error]
    done = [s.value for s in app.success if "arquivo(s)" in s.value]
    assert done and done[0].startswith("1 arquivo(s)")
    manifest = Lake.from_settings(Settings(home=api_home)).read_manifest()
    assert manifest.height == before + 1
    assert manifest.sort("received_at")["outcome"][-1] == "loaded"


def test_a_wrong_key_is_refused_with_a_clear_message(
    data_page: Any, dashboard_home: DashboardHome
) -> None:
    app = data_page(key="not-the-key")
    assert not app.text_input, "a configured key needs no key field"
    app.file_uploader(key="uploads").set_value(_future_status(dashboard_home))
    app = _submit(app, "data.upload_send")
    assert not app.exception
    assert any(
        e.value.startswith(t("error.api_key", status=401, detail="")[:24]) for e in app.error
    )


def test_an_upload_without_files_asks_for_one(data_page: Any) -> None:
    app = _submit(data_page(key=WRITE_KEY), "data.upload_send")
    assert t("data.upload_none") in [w.value for w in app.warning]


def test_retraining_starts_through_the_api_and_reports_its_outcome(
    data_page: Any, api_url: str
) -> None:
    app = data_page(key=WRITE_KEY)
    app.multiselect(key="models").set_value(["logreg"])
    app = _submit(app, "data.retrain_start")
    assert not app.exception and not app.error, [e.value for e in app.error]
    run_id = app.session_state["training_run_id"]
    assert t("data.retrain_started", run=run_id) in [s.value for s in app.success]
    client = ApiClient.connect(api_url, WRITE_KEY)
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    while (state := client.training_run(run_id))["state"] == "running":
        assert time.monotonic() < deadline, "the training run did not finish"
        time.sleep(1)
    client.close()
    assert state["state"] == "succeeded", state.get("error")
    app = _submit(app, "data.retrain_refresh")
    expected = t("data.run_succeeded", run=run_id, version=state["model_version"])
    assert expected in [s.value for s in app.success]


def test_api_client_reads_health_and_readiness(api_url: str) -> None:
    client = ApiClient.connect(api_url)
    try:
        assert client.health() == {"status": "ok"}
        ready = client.ready()
        assert ready["ready"] is True and ready["model_version"]
        with pytest.raises(ApiRefusedError) as refused:
            client.start_training(["logreg"])
        assert refused.value.status == 401
    finally:
        client.close()


def test_api_client_reports_an_api_that_does_not_answer() -> None:
    client = ApiClient(httpx.Client(base_url=f"http://127.0.0.1:{_free_port()}", timeout=2))
    with pytest.raises(ApiUnavailableError):
        client.health()
