"""``serve_api`` gives each of several workers one Polars thread, unless told otherwise,
and a metrics folder that it removes when the server stops."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from roadtest.config import Settings
from roadtest.serving import server
from roadtest.serving.server import MULTIPROCESS_VARIABLE, POLARS_THREADS_VARIABLE, serve_api

POSTGRES = "postgresql+psycopg://roadtest@127.0.0.1:5432/roadtest"


def clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset what ``serve_api`` sets, so that the test leaves the environment as it was."""
    for name in (POLARS_THREADS_VARIABLE, MULTIPROCESS_VARIABLE, "ROADTEST_API_LOG_LEVEL"):
        monkeypatch.setenv(name, "recorded for restoring")
        monkeypatch.delenv(name)


def started_env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, workers: int
) -> dict[str, Any]:
    """The environment ``uvicorn.run`` would start the workers with (it is not started)."""
    seen: dict[str, Any] = {}

    def fake_run(*_: Any, **kwargs: Any) -> None:
        folder = os.environ.get(MULTIPROCESS_VARIABLE)
        seen.update(os.environ, workers=kwargs["workers"])
        seen["folder_existed"] = folder is not None and Path(folder).is_dir()

    monkeypatch.setattr(server.uvicorn, "run", fake_run)
    serve_api(settings, host="127.0.0.1", port=0, workers=workers)
    return seen


def test_several_workers_get_one_polars_thread_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_env(monkeypatch)
    settings = Settings(home=tmp_path, warehouse_url=POSTGRES)
    seen = started_env(monkeypatch, settings, workers=2)
    assert seen["workers"] == 2
    assert seen[POLARS_THREADS_VARIABLE] == "1"


def test_a_chosen_thread_count_and_a_single_worker_are_left_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_env(monkeypatch)
    monkeypatch.setenv(POLARS_THREADS_VARIABLE, "2")
    assert (
        started_env(monkeypatch, Settings(home=tmp_path, warehouse_url=POSTGRES), 2)[
            POLARS_THREADS_VARIABLE
        ]
        == "2"
    )
    monkeypatch.delenv(POLARS_THREADS_VARIABLE)
    assert POLARS_THREADS_VARIABLE not in started_env(monkeypatch, Settings(home=tmp_path), 1)


def test_several_workers_share_a_metrics_folder_removed_when_they_stop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_env(monkeypatch)
    seen = started_env(monkeypatch, Settings(home=tmp_path, warehouse_url=POSTGRES), 2)
    assert seen["folder_existed"]
    assert not Path(seen[MULTIPROCESS_VARIABLE]).exists()
    assert MULTIPROCESS_VARIABLE not in os.environ


def test_a_metrics_folder_given_by_the_caller_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_env(monkeypatch)
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(tmp_path))
    seen = started_env(monkeypatch, Settings(home=tmp_path, warehouse_url=POSTGRES), 2)
    assert seen[MULTIPROCESS_VARIABLE] == str(tmp_path)
    assert tmp_path.is_dir()
