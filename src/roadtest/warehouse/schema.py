"""Every warehouse table, and how its polars types become SQL types on both backends.

The transform tables come from ``contracts.warehouse`` (the transforms own their
shape); the platform tables — predictions, model activations and the ETL's own
bookkeeping — are declared here with the same ``TableSpec`` class, so that the
schema, the migrations, the type checks on write and read, and the generated
data dictionary all derive from one declaration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import sqlalchemy as sa

from roadtest.contracts.warehouse import TRANSFORM_TABLES, Column, TableSpec
from roadtest.warehouse.errors import FrameContractError, WarehouseSchemaError

UTC_INSTANT: Final = pl.Datetime("us", "UTC")
"""A moment in UTC (ingestion, prediction, ETL run times): TIMESTAMPTZ in SQL."""

PLANT_TIME: Final = pl.Datetime("us")
"""A plant-local, naive timestamp as the partner records it: TIMESTAMP in SQL."""

SCHEMA_MIGRATIONS = TableSpec(
    name="schema_migrations",
    description="Ledger of the schema migrations applied to this warehouse, one row each.",
    columns=(
        Column(name="version", dtype=pl.Int32(), description="Migration number.", nullable=False),
        Column(
            name="description",
            dtype=pl.String(),
            description="What the migration changed.",
            nullable=False,
        ),
        Column(
            name="applied_at",
            dtype=UTC_INSTANT,
            description="When the migration was applied (UTC).",
            nullable=False,
        ),
    ),
    primary_key=("version",),
    vehicle_scoped=False,
)

PREDICTIONS = TableSpec(
    name="predictions",
    description=(
        "Every road-test failure probability the served model produced, with the decision "
        "taken from it; kept forever so live performance can be measured once outcomes arrive."
    ),
    columns=(
        Column(name="knr", dtype=pl.String(), description="Vehicle id.", nullable=False),
        Column(
            name="model_version",
            dtype=pl.String(),
            description="Registered model version that produced the probability.",
            nullable=False,
        ),
        Column(
            name="probability",
            dtype=pl.Float64(),
            description="Predicted probability of failing the road test, in [0, 1].",
            nullable=False,
        ),
        Column(
            name="decision",
            dtype=pl.Boolean(),
            description="True when the vehicle was sent to the full road test.",
            nullable=False,
        ),
        Column(
            name="predicted_at",
            dtype=UTC_INSTANT,
            description="When the prediction was made (UTC).",
            nullable=False,
        ),
        Column(
            name="features_as_of",
            dtype=PLANT_TIME,
            description="Plant-local time of the latest record the features saw.",
            nullable=True,
        ),
    ),
    primary_key=("knr", "model_version", "predicted_at"),
    vehicle_scoped=False,
)

MODEL_ACTIVATION = TableSpec(
    name="model_activation",
    description=(
        "Which model version served when: one row per activation, closed when the next "
        "version is activated."
    ),
    columns=(
        Column(
            name="model_name",
            dtype=pl.String(),
            description="Registered model name.",
            nullable=False,
        ),
        Column(
            name="model_version",
            dtype=pl.String(),
            description="Registered model version.",
            nullable=False,
        ),
        Column(
            name="active_from",
            dtype=UTC_INSTANT,
            description="Start of service (UTC).",
            nullable=False,
        ),
        Column(
            name="active_to",
            dtype=UTC_INSTANT,
            description="End of service (UTC); null while it still serves.",
            nullable=True,
        ),
    ),
    primary_key=("model_name", "active_from"),
    vehicle_scoped=False,
)

ETL_RUN = TableSpec(
    name="etl_run",
    description="One row per ETL run: what it consumed, what it loaded, how it ended.",
    columns=(
        Column(name="run_id", dtype=pl.String(), description="Run id.", nullable=False),
        Column(name="started_at", dtype=UTC_INSTANT, description="Start (UTC).", nullable=False),
        Column(name="finished_at", dtype=UTC_INSTANT, description="End (UTC).", nullable=False),
        Column(
            name="engine",
            dtype=pl.String(),
            description="Transform engine: polars, duckdb or spark.",
            nullable=False,
        ),
        Column(
            name="outcome",
            dtype=pl.String(),
            description="loaded, nothing new, or failed.",
            nullable=False,
        ),
        Column(
            name="bronze_versions",
            dtype=pl.String(),
            description="JSON object: bronze table → Delta version read by this run.",
            nullable=False,
        ),
        Column(
            name="rows_loaded",
            dtype=pl.String(),
            description="JSON object: warehouse table → rows written by this run.",
            nullable=False,
        ),
        Column(
            name="vehicles_affected",
            dtype=pl.Int64(),
            description="Vehicles whose rows were rebuilt.",
            nullable=False,
        ),
        Column(
            name="vehicles_labelled",
            dtype=pl.Int64(),
            description="Of those, vehicles with a final road-test outcome.",
            nullable=False,
        ),
        Column(
            name="checks_passed",
            dtype=pl.Int32(),
            description="Data-quality checks passed.",
            nullable=False,
        ),
        Column(
            name="checks_failed",
            dtype=pl.Int32(),
            description="Data-quality checks failed (hard and soft).",
            nullable=False,
        ),
        Column(
            name="message",
            dtype=pl.String(),
            description="Summary for people; the reason when the run failed.",
            nullable=False,
        ),
    ),
    primary_key=("run_id",),
    vehicle_scoped=False,
)

ETL_STATE = TableSpec(
    name="etl_state",
    description=(
        "The Delta version of each bronze table the warehouse reflects; the next ETL run "
        "consumes only what was added after it."
    ),
    columns=(
        Column(
            name="source_table",
            dtype=pl.String(),
            description="Bronze table: RESULTADOS, FALHAS or STATUS.",
            nullable=False,
        ),
        Column(
            name="delta_version",
            dtype=pl.Int64(),
            description="Consumed Delta table version.",
            nullable=False,
        ),
        Column(
            name="run_id",
            dtype=pl.String(),
            description="ETL run that consumed it.",
            nullable=False,
        ),
        Column(
            name="updated_at",
            dtype=UTC_INSTANT,
            description="When it was consumed (UTC).",
            nullable=False,
        ),
    ),
    primary_key=("source_table",),
    vehicle_scoped=False,
)

DQ_CHECK = TableSpec(
    name="dq_check",
    description=(
        "Data-quality report: every check of every ETL run that loaded data, "
        "passed or not. A failed hard check stops the load."
    ),
    columns=(
        Column(name="run_id", dtype=pl.String(), description="ETL run id.", nullable=False),
        Column(name="check_name", dtype=pl.String(), description="Check name.", nullable=False),
        Column(
            name="severity",
            dtype=pl.String(),
            description="hard (stops the load) or soft (reported only).",
            nullable=False,
        ),
        Column(name="passed", dtype=pl.Boolean(), description="Outcome.", nullable=False),
        Column(
            name="observed",
            dtype=pl.Float64(),
            description="Measured value (a count or a share).",
            nullable=True,
        ),
        Column(
            name="threshold",
            dtype=pl.Float64(),
            description="Limit the observed value is compared with.",
            nullable=True,
        ),
        Column(
            name="message",
            dtype=pl.String(),
            description="What was found, for people.",
            nullable=False,
        ),
    ),
    primary_key=("run_id", "check_name"),
    vehicle_scoped=False,
)

HEALTH_CHECK = TableSpec(
    name="health_check",
    description=(
        "Every health check the monitor ran: one row per service and round, kept as the "
        "status and latency history the dashboard's health page shows."
    ),
    columns=(
        Column(
            name="service",
            dtype=pl.String(),
            description="Checked service: api, api_ready, dashboard, warehouse, lake, registry, "
            "s3 or dagster.",
            nullable=False,
        ),
        Column(
            name="checked_at",
            dtype=UTC_INSTANT,
            description="When the check started (UTC).",
            nullable=False,
        ),
        Column(
            name="ok",
            dtype=pl.Boolean(),
            description="True when the service answered as expected within the timeout.",
            nullable=False,
        ),
        Column(
            name="latency_ms",
            dtype=pl.Float64(),
            description="Time the check took, in milliseconds.",
            nullable=False,
        ),
        Column(
            name="detail",
            dtype=pl.String(),
            description="What the service answered, or why the check failed, for people.",
            nullable=False,
        ),
    ),
    primary_key=("service", "checked_at"),
    vehicle_scoped=False,
)

TRAINING_RUNS = TableSpec(
    name="training_runs",
    description=(
        "Training runs asked for through the API: the queue a worker takes them from, their "
        "progress while they run and their outcome, readable by every API process."
    ),
    columns=(
        Column(name="id", dtype=pl.String(), description="Run id (32 hex digits).", nullable=False),
        Column(
            name="requested_at",
            dtype=UTC_INSTANT,
            description="When the run was asked for (UTC).",
            nullable=False,
        ),
        Column(
            name="request",
            dtype=pl.String(),
            description="JSON object: what to train (models, max_epochs, seed).",
            nullable=False,
        ),
        Column(
            name="state",
            dtype=pl.String(),
            description="queued, running, succeeded or failed.",
            nullable=False,
        ),
        Column(
            name="runner",
            dtype=pl.String(),
            description="Who runs it: api (a thread of an API process) or dagster (the worker); "
            "empty while queued.",
            nullable=True,
        ),
        Column(
            name="started_at",
            dtype=UTC_INSTANT,
            description="When a runner took it (UTC).",
            nullable=True,
        ),
        Column(
            name="finished_at",
            dtype=UTC_INSTANT,
            description="When it succeeded or failed (UTC).",
            nullable=True,
        ),
        Column(
            name="heartbeat_at",
            dtype=UTC_INSTANT,
            description="Last sign of life of its runner (UTC); a run silent for longer than "
            "ROADTEST_TRAINING_RUN_STALE_S is marked failed.",
            nullable=True,
        ),
        Column(
            name="steps",
            dtype=pl.String(),
            description="JSON object: step name → units done, total units, finished.",
            nullable=False,
        ),
        Column(
            name="result",
            dtype=pl.String(),
            description="JSON object: the run's metrics and promotion outcome, once it succeeded.",
            nullable=True,
        ),
        Column(
            name="mlflow_run_id",
            dtype=pl.String(),
            description="MLflow run of the training, once it succeeded.",
            nullable=True,
        ),
        Column(
            name="model_version",
            dtype=pl.String(),
            description="Registered model version, once it succeeded.",
            nullable=True,
        ),
        Column(
            name="error",
            dtype=pl.String(),
            description="Why it failed, for people.",
            nullable=True,
        ),
    ),
    primary_key=("id",),
    vehicle_scoped=False,
)

VEHICLE_EVENT_BATCHES = TableSpec(
    name="vehicle_event_batches",
    description=(
        "Each vehicle's mart_vehicle_events rows packed into one value, written with them: "
        "the API reads a batch of vehicles as that many values instead of hundreds of rows "
        "each (warehouse/packed_events.py). Kept on PostgreSQL only; empty on DuckDB, which "
        "reads the rows faster than the packed values."
    ),
    columns=(
        Column(name="knr", dtype=pl.String(), description="Vehicle id (KNR).", nullable=False),
        Column(
            name="format",
            dtype=pl.Int32(),
            description="Version of the packing; rows of another version are read from "
            "mart_vehicle_events instead.",
            nullable=False,
        ),
        Column(
            name="events",
            dtype=pl.Binary(),
            description="The vehicle's event rows, in seq order, as one Arrow IPC record batch "
            "compressed with LZ4.",
            nullable=False,
        ),
        Column(
            name="unpacked_bytes",
            dtype=pl.Int64(),
            description="Size of the record batch before compression (LZ4 needs it to unpack).",
            nullable=False,
        ),
    ),
    primary_key=("knr",),
    vehicle_scoped=True,
)

PLATFORM_TABLES: Final[tuple[TableSpec, ...]] = (
    PREDICTIONS,
    MODEL_ACTIVATION,
    ETL_RUN,
    ETL_STATE,
    DQ_CHECK,
    HEALTH_CHECK,
    TRAINING_RUNS,
    VEHICLE_EVENT_BATCHES,
)
"""Tables the platform writes itself (not built by the transforms)."""

WAREHOUSE_TABLES: Final[dict[str, TableSpec]] = {
    spec.name: spec for spec in (*TRANSFORM_TABLES, *PLATFORM_TABLES, SCHEMA_MIGRATIONS)
}
"""Every table of the warehouse by name: transform tables in load order, then platform ones."""

TRANSFORM_TABLE_NAMES: Final = frozenset(spec.name for spec in TRANSFORM_TABLES)


def warehouse_table(name: str) -> TableSpec:
    """The spec of a warehouse table, or an error listing the tables that exist."""
    try:
        return WAREHOUSE_TABLES[name]
    except KeyError:
        known = ", ".join(WAREHOUSE_TABLES)
        raise WarehouseSchemaError(
            f"The warehouse has no table {name!r}; its tables are: {known}."
        ) from None


def sql_type(dtype: pl.DataType, where: str) -> sa.types.TypeEngine[Any]:
    """The SQL type storing ``dtype`` without loss on DuckDB and PostgreSQL alike.

    Unsigned integers widen to the next signed type because PostgreSQL has none;
    only UTC-aware datetimes are instants, so any other zone is refused rather than
    silently shifted.
    """
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone not in (None, "UTC"):
            raise WarehouseSchemaError(
                f"{where} is a datetime in zone {dtype.time_zone!r}; the warehouse stores "
                "plant-local naive timestamps or UTC instants only."
            )
        return sa.DateTime(timezone=dtype.time_zone == "UTC")
    simple: dict[type[pl.DataType], sa.types.TypeEngine[Any]] = {
        pl.String: sa.Text(),
        pl.Boolean: sa.Boolean(),
        pl.Int8: sa.SmallInteger(),
        pl.Int16: sa.SmallInteger(),
        pl.UInt8: sa.SmallInteger(),
        pl.Int32: sa.Integer(),
        pl.UInt16: sa.Integer(),
        pl.Int64: sa.BigInteger(),
        pl.UInt32: sa.BigInteger(),
        pl.Float32: sa.REAL(),
        pl.Float64: sa.Double(),
        pl.Date: sa.Date(),
        pl.Binary: sa.LargeBinary(),
    }
    found = simple.get(type(dtype))
    if found is None:
        raise WarehouseSchemaError(
            f"{where} has type {dtype}, which the warehouse cannot store; use text, "
            "integers, floats, booleans, dates, datetimes or binary."
        )
    return found


def sql_table(spec: TableSpec, metadata: sa.MetaData, enforce_key: bool = True) -> sa.Table:
    """The SQLAlchemy table of ``spec`` in ``metadata``.

    ``enforce_key=False`` leaves out the PRIMARY KEY constraint (key columns stay
    NOT NULL). DuckDB maintains a key with an index that makes bulk inserts about
    four times and delete-then-insert rebuilds about ten times slower; there the
    writer's own uniqueness check guards the key instead.
    """
    columns = [
        sa.Column(
            col.name,
            sql_type(col.dtype, f"Column {spec.name}.{col.name}"),
            nullable=col.nullable and col.name not in spec.primary_key,
            primary_key=enforce_key and col.name in spec.primary_key,
            autoincrement=False,
            comment=col.description,
        )
        for col in spec.columns
    ]
    return sa.Table(spec.name, metadata, *columns, comment=spec.description)


def warehouse_metadata(specs: Iterable[TableSpec]) -> sa.MetaData:
    """One MetaData holding the tables of ``specs``."""
    metadata = sa.MetaData()
    for spec in specs:
        sql_table(spec, metadata)
    return metadata


@dataclass(frozen=True)
class Reference:
    """A relation from a table's columns to a dimension's primary key.

    ``by_day`` marks the date dimension: a timestamp column refers to the row of
    its calendar day.
    """

    table: str
    columns: tuple[str, ...]
    dimension: str
    by_day: bool = False


DATE_DIMENSION: Final = "dim_date"


def references(spec: TableSpec) -> list[Reference]:
    """The dimensions rows of ``spec`` refer to.

    A table refers to a dimension when it carries every column of that dimension's
    key under the same names (``knr`` → ``dim_vehicle``; ``name`` and ``value_id`` →
    ``dim_test``); a fact's ``data`` timestamp refers to ``dim_date`` by its day.
    Relations are declared by naming, not enforced by the database, so vehicles can
    be rebuilt in any table order; the ETL's referential-integrity check enforces
    them on the transform tables instead.
    """
    if spec.name.startswith("dim_"):
        return []
    names = set(spec.column_names)
    found = [
        Reference(spec.name, dim.primary_key, dim.name)
        for dim in TRANSFORM_TABLES
        if dim.name.startswith("dim_")
        and dim.name != DATE_DIMENSION
        and set(dim.primary_key) <= names
    ]
    if spec.name.startswith("fact_") and isinstance(spec.schema().get("data"), pl.Datetime):
        found.append(Reference(spec.name, ("data",), DATE_DIMENSION, by_day=True))
    return found


def conform_frame(df: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """``df`` with exactly the columns and types of ``spec``, or an error saying what is off.

    Missing or unexpected columns are refused rather than filled or dropped so that
    nothing is lost silently; values are cast strictly so a text that is not a number
    is an error, not a null.
    """
    expected = spec.schema()
    missing = [name for name in expected if name not in df.columns]
    extra = [name for name in df.columns if name not in expected]
    if missing or extra:
        raise FrameContractError(
            f"Rows for table {spec.name} do not have its columns: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}."
        )
    casts = (pl.col(name).cast(dtype, strict=True) for name, dtype in expected.items())
    try:
        out = df if df.schema == expected else df.select(casts)
    except pl.exceptions.PolarsError as exc:
        raise FrameContractError(
            f"Rows for table {spec.name} have values of the wrong type: {exc}"
        ) from exc
    required = [c.name for c in spec.columns if not c.nullable or c.name in spec.primary_key]
    null_counts = out.select(pl.col(required).null_count()).row(0, named=True) if required else {}
    empty = {name: n for name, n in null_counts.items() if n}
    if empty:
        raise FrameContractError(
            f"Rows for table {spec.name} leave required columns empty (column: rows): {empty}."
        )
    return out
