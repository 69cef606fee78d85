"""Versioned schema migrations, recorded in ``schema_migrations``.

Each migration runs once per database, in order, inside one transaction with its
ledger row, so a database is always at a whole version. Operations check what
exists before acting: a fresh database, whose first migration already creates
tables at their current shape, can pass later migrations that add the same
columns without error. After migrating, the database is compared with the
declared schema; a difference means the code changed a table without adding a
migration, which is reported instead of surfacing later as a failed query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from roadtest.warehouse.errors import WarehouseSchemaError
from roadtest.warehouse.schema import (
    SCHEMA_MIGRATIONS,
    WAREHOUSE_TABLES,
    sql_table,
    warehouse_table,
)

_PG_MIGRATION_LOCK: Final = 7_052_023
"""Advisory lock key: two processes migrating one PostgreSQL database take turns."""


def enforces_keys(dialect: str) -> bool:
    """Whether primary keys are database constraints on this backend (see ``sql_table``)."""
    return dialect != "duckdb"


@dataclass(frozen=True)
class Migration:
    """One step of the schema's history."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def create_tables(*names: str) -> Callable[[sa.Connection], None]:
    """An operation creating the named tables, each only if it does not exist yet."""

    def apply(conn: sa.Connection) -> None:
        metadata = sa.MetaData()
        enforce = enforces_keys(conn.dialect.name)
        for name in names:
            sql_table(warehouse_table(name), metadata, enforce).create(conn, checkfirst=True)

    return apply


def add_health_check(conn: sa.Connection) -> None:
    """Create ``health_check`` and its (service, checked_at) index.

    The health page reads one service's recent checks; PostgreSQL serves that
    from the primary key's own index, DuckDB (keys not enforced) needs one made.
    """
    create_tables("health_check")(conn)
    if not enforces_keys(conn.dialect.name):
        conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS ix_health_check_service_checked_at "
            "ON health_check (service, checked_at)"
        )


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "Star schema (vehicle, test, zone and date dimensions; test result, zone passage and "
        "defect facts), labels, feature marts, predictions, model activations, ETL state, "
        "runs and data-quality checks.",
        create_tables(
            "dim_vehicle",
            "dim_test",
            "dim_zone",
            "dim_date",
            "fact_test_result",
            "fact_zone_passage",
            "fact_defect",
            "vehicle_label",
            "mart_vehicle_features",
            "mart_vehicle_events",
            "predictions",
            "model_activation",
            "etl_run",
            "etl_state",
            "dq_check",
        ),
    ),
    Migration(
        2,
        "Health-check history of the monitor (health_check), indexed by service and time.",
        add_health_check,
    ),
    Migration(
        3,
        "Training runs asked for through the API (training_runs): queue, progress and outcome.",
        create_tables("training_runs"),
    ),
    Migration(
        4,
        "Each vehicle's events packed into one value (vehicle_event_batches), for the API's "
        "batch reads; vehicles loaded before it are read from mart_vehicle_events until their "
        "next load.",
        create_tables("vehicle_event_batches"),
    ),
)
"""Every migration, in version order. Append; never edit one that has shipped."""


def migrate(engine: sa.Engine) -> list[int]:
    """Apply the migrations this database lacks; returns their versions (empty when current)."""
    ledger = sql_table(SCHEMA_MIGRATIONS, sa.MetaData())
    applied_now: list[int] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        ledger.create(conn, checkfirst=True)
        done = set(conn.execute(sa.select(ledger.c.version)).scalars())
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            migration.apply(conn)
            conn.execute(
                ledger.insert().values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=sa.func.current_timestamp(),
                )
            )
            applied_now.append(migration.version)
    drift = schema_drift(engine)
    if drift:
        raise WarehouseSchemaError(
            "The warehouse schema does not match the code after migrating; a migration is "
            "missing for: " + "; ".join(drift)
        )
    return applied_now


def current_version(engine: sa.Engine) -> int:
    """The highest migration applied; 0 when the database has never been migrated."""
    with engine.connect() as conn:
        if SCHEMA_MIGRATIONS.name not in existing_columns(conn):
            return 0
        ledger = sql_table(SCHEMA_MIGRATIONS, sa.MetaData())
        version = conn.execute(sa.select(sa.func.max(ledger.c.version))).scalar()
    return int(version or 0)


def existing_columns(conn: sa.Connection) -> dict[str, set[str]]:
    """Table → column names in the connection's current schema.

    Read from ``information_schema``, which both backends provide, because the
    DuckDB dialect's SQLAlchemy reflection queries PostgreSQL catalogs DuckDB lacks.
    """
    rows = conn.execute(
        sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    ).all()
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(str(table), set()).add(str(column))
    return tables


def schema_drift(engine: sa.Engine) -> list[str]:
    """Tables and columns the code declares but the database lacks, in words."""
    with engine.connect() as conn:
        existing = existing_columns(conn)
    problems: list[str] = []
    for name, spec in WAREHOUSE_TABLES.items():
        if name not in existing:
            problems.append(f"table {name} does not exist")
            continue
        missing = [c for c in spec.schema() if c not in existing[name]]
        if missing:
            problems.append(f"table {name} lacks column(s) {', '.join(missing)}")
    return problems
