"""Where the dashboard's data comes from: the warehouse (read-only), the lake, the registry.

The dashboard never writes. The warehouse is opened read-only and without a
connection pool: on DuckDB, a file held open by one process cannot be opened
for writing by another, so every read opens the file, reads and closes it,
and the ETL or the API can write between two reads. A read that meets the
writer's lock is retried a few times before the page says the warehouse is
busy. Nothing here creates a missing store either: an install without a
warehouse, lake or registry yet gets an empty state saying which command
makes it, not an empty file created behind its back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import polars as pl
import sqlalchemy as sa
from pydantic import Field, SecretStr
from sqlalchemy.pool import NullPool

from roadtest.config import Settings
from roadtest.dashboard.data import VersionRecord
from roadtest.lake import Lake
from roadtest.monitor.checks import Check, CheckFailedError, run_check
from roadtest.monitor.health import HEALTH_COLUMNS, results_frame
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse
from roadtest.warehouse.errors import is_lock_conflict
from roadtest.warehouse.migrations import existing_columns

HEALTH_TABLE: Final = "health_check"
"""The monitor's table of health checks (service, checked_at, ok, latency_ms, detail)."""

LOCK_RETRIES: Final = 5
LOCK_WAIT_S: Final = 0.2
"""A busy DuckDB file is retried after 0.2, 0.4, … s: an ETL commit usually ends within that."""

T = TypeVar("T")


class DashboardSettings(Settings):
    """The platform settings plus how the dashboard reaches the API for actions."""

    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the roadtest API the dashboard sends uploads and training to.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="API key (a write key) the dashboard sends with uploads and training runs; "
        "without it the Data page asks for one.",
    )


class SourceUnavailableError(Exception):
    """A store a page needs is missing, empty or busy.

    ``key`` names the message (in ``i18n``) telling the user what to do, and
    ``values`` fills it in; pages show it instead of a stack trace.
    """

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


# --- warehouse -----------------------------------------------------------------------------


def _local_duckdb_file(url: sa.URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser()


def open_warehouse(url: str) -> Warehouse:
    """A read-only, pool-less view of the warehouse at ``url``.

    DuckDB: opened with ``read_only`` (a missing file is an empty state, not
    created). PostgreSQL: every transaction is read-only.
    """
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "duckdb":
        path = _local_duckdb_file(parsed)
        if path is None or not path.is_file():
            raise SourceUnavailableError("empty.no_warehouse")
        engine = sa.create_engine(parsed, connect_args={"read_only": True}, poolclass=NullPool)
    elif backend == "postgresql":
        engine = sa.create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            connect_args={"options": "-c TimeZone=UTC -c default_transaction_read_only=on"},
            poolclass=NullPool,
        )
    else:
        raise SourceUnavailableError("error.warehouse_url")
    return Warehouse(engine)


def with_retry(read: Callable[[], T]) -> T:
    """``read()``, retried while another process holds the DuckDB file's write lock."""
    for attempt in range(1, LOCK_RETRIES):
        try:
            return read()
        except sa.exc.DBAPIError as error:
            if not is_lock_conflict(error):
                raise
            time.sleep(LOCK_WAIT_S * attempt)
    try:
        return read()
    except sa.exc.DBAPIError as error:
        if is_lock_conflict(error):
            raise SourceUnavailableError("error.warehouse_busy") from error
        raise


def require_schema(warehouse: Warehouse) -> int:
    """The warehouse's schema version, or an empty state when it was never loaded."""
    version = with_retry(warehouse.schema_version)
    if version == 0:
        raise SourceUnavailableError("empty.no_warehouse")
    return version


def read_table(
    warehouse: Warehouse,
    name: str,
    where: Mapping[str, Collection[Any]] | None = None,
    columns: Collection[str] | None = None,
) -> pl.DataFrame:
    """Rows of a warehouse table (see ``Warehouse.read_table``), retried while the file is busy."""
    return with_retry(lambda: warehouse.read_table(name, where, columns))


def has_table(warehouse: Warehouse, name: str) -> bool:
    """Whether the warehouse holds a table ``name`` (for tables newer code may add)."""

    def check() -> bool:
        with warehouse.engine.connect() as conn:
            return name in existing_columns(conn)

    return with_retry(check)


def read_health_history(warehouse: Warehouse) -> pl.DataFrame | None:
    """Every recorded health check of the ``health_check`` table, None when it does not exist."""
    if not has_table(warehouse, HEALTH_TABLE):
        return None
    names = ", ".join(HEALTH_COLUMNS.names())
    query = sa.text(f"SELECT {names} FROM {HEALTH_TABLE} ORDER BY checked_at")

    def read() -> pl.DataFrame:
        with warehouse.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=HEALTH_COLUMNS, orient="row")

    return with_retry(read)


# --- lake and registry ---------------------------------------------------------------------


def open_lake(settings: Settings) -> Lake:
    """The lake, or an empty state when its local folder does not exist yet."""
    uri = settings.resolved_lake_uri()
    if not uri.startswith("s3://"):
        folder = Path(uri.removeprefix("file://")).expanduser()
        if not folder.is_dir():
            raise SourceUnavailableError("empty.no_lake")
    return Lake.from_settings(settings)


def open_registry(settings: Settings) -> Registry:
    """The model registry, or an empty state when its local sqlite store does not exist yet."""
    uri = settings.resolved_mlflow_tracking_uri()
    if uri.startswith("sqlite:"):
        database = sa.make_url(uri).database
        if not database or not Path(database).expanduser().is_file():
            raise SourceUnavailableError("empty.no_registry")
    return Registry(uri)


def version_records(registry: Registry) -> list[VersionRecord]:
    """Every registered version with its run's metrics and parameters, oldest first."""
    records = []
    for info in registry.list_versions():
        details = registry.version_details(info.version)
        records.append(
            VersionRecord(
                version=info.version,
                kind=info.tags.get("model_kind", ""),
                created_at=info.created_at,
                champion=info.is_champion,
                promotion=info.tags.get("promotion", ""),
                promotion_reason=info.tags.get("promotion_reason", ""),
                metrics=dict(details.metrics),
                params=dict(details.params),
            )
        )
    return records


# --- live health checks -----------------------------------------------------------------------


def _keyed(call: Callable[[], str]) -> Callable[[], str]:
    """``call`` with an empty store reported by its message key (the page translates it)."""

    def probe() -> str:
        try:
            return call()
        except SourceUnavailableError as error:
            raise CheckFailedError(error.key) from error

    return probe


def store_checks(settings: Settings) -> list[Check]:
    """Checks of the warehouse, lake and registry, read the way the pages read them."""

    def warehouse() -> str:
        store = open_warehouse(settings.resolved_warehouse_url())
        try:
            return f"{store.backend}, schema version {require_schema(store)}"
        finally:
            store.dispose()

    def lake() -> str:
        files = open_lake(settings).read_manifest().height
        return f"{files} file(s) in the manifest"

    def registry() -> str:
        champion = open_registry(settings).get_champion()
        return "no champion yet" if champion is None else f"champion version {champion.version}"

    return [
        Check("warehouse", _keyed(warehouse)),
        Check("lake", _keyed(lake)),
        Check("registry", _keyed(registry)),
    ]


def run_live_checks(checks: Sequence[Check]) -> pl.DataFrame:
    """Every check run now, in order, as rows of the ``health_check`` table."""
    return results_frame([run_check(check) for check in checks])
