"""Running the API under uvicorn: what ``roadtest serve`` does.

Each worker process builds its own app from the ``ROADTEST_*`` environment
through the factory ``app_from_env``. Several workers need a warehouse that
several processes can write (PostgreSQL): a DuckDB file admits one writing
process, so the command refuses rather than letting the second worker fail.
With several workers the Prometheus values are shared through files in a
temporary folder (removed when the server stops), so ``/v1/metrics`` reports all
workers whichever answers,
and each worker's Polars runs one thread (``POLARS_THREADS_VARIABLE``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import sqlalchemy as sa
import uvicorn

from roadtest.config import Settings

APP_FACTORY: Final = "roadtest.serving.app:app_from_env"

POLARS_THREADS_VARIABLE: Final = "POLARS_MAX_THREADS"
"""Set to 1 for each of several workers unless already set: the workers already share the
cores, and a one-vehicle query gains nothing from a pool but waits on its hand-offs (in
process, one vehicle's inputs were built faster with one thread than with two; the HTTP
bench on the shared build machine was too noisy to separate the two). A single worker
keeps Polars' default pool."""
MULTIPROCESS_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")


class ServeError(ValueError):
    """The API cannot be started as asked."""


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse several workers over a DuckDB file, which one process at a time may write."""
    backend = sa.make_url(settings.resolved_warehouse_url()).get_backend_name()
    if workers > 1 and backend == "duckdb":
        raise ServeError(
            f"{workers} workers cannot share the DuckDB warehouse file (one process may write it "
            "at a time): run one worker, or point ROADTEST_WAREHOUSE_URL at PostgreSQL."
        )


def serve_api(
    settings: Settings, *, host: str, port: int, workers: int, log_level: str = "info"
) -> None:
    """Serve the API until interrupted."""
    if log_level not in LOG_LEVELS:
        raise ServeError(f"unknown log level {log_level!r}: choose one of {', '.join(LOG_LEVELS)}")
    check_workers(settings, workers)
    os.environ["ROADTEST_API_LOG_LEVEL"] = log_level  # the workers read it into their Settings
    if workers > 1:
        os.environ.setdefault(POLARS_THREADS_VARIABLE, "1")
    with shared_metrics_folder(workers):
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            log_level=log_level,
            access_log=False,
        )


@contextmanager
def shared_metrics_folder(workers: int) -> Iterator[None]:
    """A fresh folder for several workers' metric files, removed when the server stops.

    A folder given in ``PROMETHEUS_MULTIPROC_DIR`` is the caller's and left alone.
    """
    if workers == 1 or MULTIPROCESS_VARIABLE in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="roadtest-metrics-") as folder:
        os.environ[MULTIPROCESS_VARIABLE] = folder
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_VARIABLE]
