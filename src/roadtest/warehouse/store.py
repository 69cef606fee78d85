"""The warehouse: one SQLAlchemy engine on DuckDB or PostgreSQL, read and written as frames.

Everything that changes the warehouse happens in a ``Transaction`` so that a
caller (the ETL) can rebuild vehicles, check the result and record its state,
and have all of it commit together or not at all. The ``Warehouse`` methods of
the same names are one-transaction shortcuts for callers that need no more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from roadtest.config import Settings
from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, TRANSFORM_TABLES, TableSpec
from roadtest.warehouse.backends import FrameIO, column_list, frame_io, quote
from roadtest.warehouse.errors import FrameContractError, WarehouseError
from roadtest.warehouse.migrations import current_version, migrate
from roadtest.warehouse.packed_events import PACKED_FORMAT, pack_events, unpack_events
from roadtest.warehouse.schema import (
    ETL_STATE,
    MODEL_ACTIVATION,
    PREDICTIONS,
    TRANSFORM_TABLE_NAMES,
    VEHICLE_EVENT_BATCHES,
    conform_frame,
    sql_table,
    warehouse_table,
)

PACKED_READ_MIN_VEHICLES: Final = 2
"""Fewest vehicles read through the packed event copies. On PostgreSQL one vehicle's
~220 event rows read in 2.0 ms, its packed value in 3.0 ms (unpacking has a fixed
cost); four vehicles take 5.7 ms as rows and 4.3 ms packed, 64 take 44 and 9 ms."""

Filter = Mapping[str, Iterable[Any]]
"""Row filter of a read: column → the values to keep (rows matching every column)."""


def utc_now() -> dt.datetime:
    """The current instant in UTC, at the microsecond precision the warehouse stores."""
    return dt.datetime.now(dt.UTC)


class Transaction:
    """Reads and writes inside one database transaction."""

    def __init__(self, conn: sa.Connection, io: FrameIO) -> None:
        self._conn = conn
        self._io = io

    def read_table(
        self, name: str, where: Filter | None = None, columns: Collection[str] | None = None
    ) -> pl.DataFrame:
        """Rows of table ``name`` ordered by its primary key, with its declared polars types.

        A filter of up to ``FrameIO.max_bound_values`` values (one vehicle's KNR, a
        batch request's KNRs on PostgreSQL) is bound as an array parameter; a longer
        one is staged as a temporary relation, which on PostgreSQL costs a table's
        creation but scales to any number of values.
        """
        spec = warehouse_table(name)
        schema = spec.schema()
        wanted = list(schema) if columns is None else [c for c in schema if c in columns]
        unknown = set(columns or ()) - set(schema) | set(where or {}) - set(schema)
        if unknown:
            raise FrameContractError(
                f"Table {name} has no column(s) {sorted(unknown)}; its columns are {list(schema)}."
            )
        with ExitStack() as stack:
            conditions = []
            params: list[list[Any]] = []
            for col, values in (where or {}).items():
                series = pl.Series(col, list(values), dtype=schema[col])
                if series.len() <= self._io.max_bound_values:
                    conditions.append(f"{quote(col)} = ANY({self._io.parameter})")
                    params.append(series.to_list())
                    continue
                stage = stack.enter_context(self._io.staged(self._conn, series.to_frame()))
                conditions.append(f"{quote(col)} IN (SELECT {quote(col)} FROM {stage})")
            sql = f"SELECT {column_list(wanted)} FROM {quote(name)}"
            if conditions:
                sql += " WHERE " + " AND ".join(conditions)
            order = [c for c in spec.primary_key if c in wanted] or wanted
            sql += f" ORDER BY {column_list(order)}"
            result = pl.Schema({c: schema[c] for c in wanted})
            return self._io.query(self._conn, sql, result, tuple(params))

    def count_rows(self, name: str) -> int:
        """Number of rows of table ``name``."""
        warehouse_table(name)
        count = self._conn.exec_driver_sql(f"SELECT count(*) FROM {quote(name)}").scalar_one()
        return int(count)

    def append_rows(self, name: str, df: pl.DataFrame) -> int:
        """Add rows to table ``name``; returns how many."""
        spec = warehouse_table(name)
        rows = _checked(df, spec)
        if rows.height:
            self._write(spec, rows)
        return rows.height

    def upsert_rows(self, name: str, df: pl.DataFrame) -> int:
        """Insert rows, replacing those with the same primary key; returns how many were written."""
        spec = warehouse_table(name)
        return self._upsert(spec, _checked(df, spec))

    def record_predictions(self, predictions: pl.DataFrame) -> int:
        """Store predictions (columns of the ``predictions`` table); returns how many."""
        out_of_range = predictions.filter(~pl.col("probability").is_between(0.0, 1.0))
        if out_of_range.height:
            raise FrameContractError(
                f"{out_of_range.height} prediction(s) have a probability outside [0, 1], "
                f"e.g. {out_of_range.head(3).select('knr', 'probability').rows()}."
            )
        return self.append_rows(PREDICTIONS.name, predictions)

    def _upsert(self, spec: TableSpec, rows: pl.DataFrame) -> int:
        if rows.height == 0:
            return 0
        keys = rows.select(spec.primary_key)
        name = quote(spec.name)
        with self._io.staged(self._conn, keys) as stage:
            match = " AND ".join(f"{stage}.{quote(k)} = {name}.{quote(k)}" for k in keys.columns)
            self._conn.exec_driver_sql(
                f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM {stage} WHERE {match})"
            )
        self._write(spec, rows)
        return rows.height

    def replace_vehicles(
        self, tables: Mapping[str, pl.DataFrame], knrs: Iterable[str], check_keys: bool = True
    ) -> dict[str, int]:
        """Make the warehouse hold exactly ``tables``' rows for the vehicles ``knrs``.

        Vehicle-scoped tables lose every row of those vehicles and get the new ones
        (so a vehicle whose defects were corrected away loses them); dimensions are
        upserted by primary key. Only the tables given are touched. Returns rows
        written per table. ``check_keys=False`` skips the repeated-key check, for a
        caller (the ETL) that has just run it on the same frames: on millions of
        rows it costs seconds, and DuckDB does not enforce keys itself.
        """
        unknown = [name for name in tables if name not in TRANSFORM_TABLE_NAMES]
        if unknown:
            raise FrameContractError(
                f"replace_vehicles rebuilds transform tables only; {unknown} are not among "
                f"{sorted(TRANSFORM_TABLE_NAMES)}."
            )
        vehicles = pl.DataFrame({"knr": pl.Series("knr", list(knrs), dtype=pl.String())}).unique()
        written: dict[str, int] = {}
        with self._io.staged(self._conn, vehicles) as stage:
            for spec in TRANSFORM_TABLES:
                if spec.name not in tables:
                    continue
                rows = _checked(tables[spec.name], spec, check_keys)
                if spec.vehicle_scoped:
                    _require_vehicles(rows, vehicles, spec)
                    self._conn.exec_driver_sql(
                        f"DELETE FROM {quote(spec.name)} WHERE knr IN (SELECT knr FROM {stage})"
                    )
                    if rows.height:
                        self._write(spec, rows)
                    written[spec.name] = rows.height
                else:
                    written[spec.name] = self._upsert(spec, rows)
            if self._io.packs_events and MART_VEHICLE_EVENTS.name in tables:
                self._replace_packed_events(tables[MART_VEHICLE_EVENTS.name], stage)
        return written

    def _replace_packed_events(self, events: pl.DataFrame, stage: str) -> None:
        """Keep ``vehicle_event_batches`` equal to the event rows just written."""
        self._conn.exec_driver_sql(
            f"DELETE FROM {quote(VEHICLE_EVENT_BATCHES.name)} "
            f"WHERE knr IN (SELECT knr FROM {stage})"
        )
        packed = pack_events(events)
        if packed.height:
            self._write(VEHICLE_EVENT_BATCHES, packed)

    def read_vehicle_events(
        self, knrs: Sequence[str], columns: Collection[str] | None = None
    ) -> pl.DataFrame:
        """The mart_vehicle_events rows of ``knrs`` (ordered by KNR and seq), like ``read_table``.

        On PostgreSQL they come from the packed copies (``packed_events``); vehicles
        without a current copy (loaded before it existed, or packed in another
        format) are read from the table itself, as all are on DuckDB, and so is a
        single vehicle, whose few hundred rows cost less than unpacking
        (``PACKED_READ_MIN_VEHICLES``).
        """
        wanted = list(dict.fromkeys(knrs))
        if not self._io.packs_events or len(wanted) < PACKED_READ_MIN_VEHICLES:
            return self.read_table(MART_VEHICLE_EVENTS.name, {"knr": wanted}, columns)
        packed = self.read_table(VEHICLE_EVENT_BATCHES.name, {"knr": wanted}).filter(
            pl.col("format") == PACKED_FORMAT
        )
        events = unpack_events(packed)
        present = set(packed.get_column("knr").to_list())
        missing = [knr for knr in wanted if knr not in present]
        if missing:
            rest = self.read_table(MART_VEHICLE_EVENTS.name, {"knr": missing})
            events = pl.concat([events, rest]).sort("knr", "seq")
        return (
            events if columns is None else events.select(c for c in events.columns if c in columns)
        )

    def update_activation(self, model_name: str, model_version: str, at: dt.datetime) -> None:
        """Close the open activation of ``model_name`` at ``at`` and open ``model_version``."""
        table = sql_table(MODEL_ACTIVATION, sa.MetaData())
        self._conn.execute(
            table.update()
            .where(table.c.model_name == model_name, table.c.active_to.is_(None))
            .values(active_to=at)
        )
        row = {
            "model_name": model_name,
            "model_version": model_version,
            "active_from": at,
            "active_to": None,
        }
        self.append_rows(
            MODEL_ACTIVATION.name, pl.DataFrame([row], schema=MODEL_ACTIVATION.schema())
        )

    def _write(self, spec: TableSpec, rows: pl.DataFrame) -> None:
        self._io.insert(self._conn, spec.name, rows)


def _checked(df: pl.DataFrame, spec: TableSpec, check_keys: bool = True) -> pl.DataFrame:
    """``df`` conformed to ``spec`` and free of repeated primary keys, or a clear error."""
    rows = conform_frame(df, spec)
    if not check_keys or rows.height < 2:
        return rows
    key = list(spec.primary_key)
    repeated = rows.filter(pl.struct(key).is_duplicated()).select(key).unique()
    if repeated.height:
        sample = repeated.head(5).rows()
        raise FrameContractError(
            f"Rows for table {spec.name} repeat its primary key {tuple(key)} "
            f"for {repeated.height} key(s), e.g. {sample}."
        )
    return rows


def _require_vehicles(rows: pl.DataFrame, vehicles: pl.DataFrame, spec: TableSpec) -> None:
    """Refuse rows of vehicles outside the set being replaced: they would pile up duplicates."""
    strays = rows.select("knr").unique().join(vehicles, on="knr", how="anti")
    if strays.height:
        sample = strays.head(5)["knr"].to_list()
        raise FrameContractError(
            f"Rows for table {spec.name} belong to {strays.height} vehicle(s) not being "
            f"replaced, e.g. {sample}; pass their KNRs too."
        )


class Warehouse:
    """The warehouse behind one SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._io = frame_io(engine.dialect.name)

    @classmethod
    def from_settings(cls, settings: Settings) -> Warehouse:
        """The warehouse the settings point at (the embedded DuckDB file by default)."""
        return connect(settings.resolved_warehouse_url())

    @property
    def backend(self) -> str:
        """``duckdb`` or ``postgresql``."""
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"Warehouse({self.engine.url.render_as_string(hide_password=True)})"

    def migrate(self) -> list[int]:
        """Bring the schema up to date; returns the migration versions applied now."""
        return migrate(self.engine)

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        return current_version(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield Transaction(conn, self._io)

    def dispose(self) -> None:
        """Close every pooled connection (releases the DuckDB file for other processes)."""
        self.engine.dispose()

    def read_table(
        self, name: str, where: Filter | None = None, columns: Collection[str] | None = None
    ) -> pl.DataFrame:
        """Rows of table ``name``, optionally filtered (see ``Transaction.read_table``)."""
        with self.transaction() as tx:
            return tx.read_table(name, where, columns)

    def count_rows(self, name: str) -> int:
        """Number of rows of table ``name``."""
        with self.transaction() as tx:
            return tx.count_rows(name)

    def replace_vehicles(
        self, tables: Mapping[str, pl.DataFrame], knrs: Iterable[str], check_keys: bool = True
    ) -> dict[str, int]:
        """Rebuild the rows of ``knrs`` in one transaction (``Transaction.replace_vehicles``)."""
        with self.transaction() as tx:
            return tx.replace_vehicles(tables, knrs, check_keys)

    def read_features(self, knrs: Iterable[str] | None = None) -> pl.DataFrame:
        """The vehicle feature mart, for all vehicles or the given ones."""
        return self.read_table("mart_vehicle_features", _knr_filter(knrs))

    def read_events(self, knrs: Iterable[str] | None = None) -> pl.DataFrame:
        """The vehicle event mart (pre-road-test event sequences), for all or the given vehicles."""
        return self.read_table("mart_vehicle_events", _knr_filter(knrs))

    def read_labels(self, knrs: Iterable[str] | None = None) -> pl.DataFrame:
        """Road-test outcomes of labelled vehicles."""
        return self.read_table("vehicle_label", _knr_filter(knrs))

    def read_predictions(self, knrs: Iterable[str] | None = None) -> pl.DataFrame:
        """Stored predictions, for all or the given vehicles."""
        return self.read_table(PREDICTIONS.name, _knr_filter(knrs))

    def read_etl_state(self) -> dict[str, int]:
        """Bronze table → the Delta version the warehouse reflects."""
        state = self.read_table(ETL_STATE.name)
        return dict(zip(state["source_table"], state["delta_version"], strict=True))

    def record_predictions(self, predictions: pl.DataFrame) -> int:
        """Store predictions in a transaction of their own (``Transaction.record_predictions``)."""
        with self.transaction() as tx:
            return tx.record_predictions(predictions)

    def record_prediction(
        self,
        knr: str,
        model_version: str,
        probability: float,
        decision: bool,
        features_as_of: dt.datetime | None = None,
        predicted_at: dt.datetime | None = None,
    ) -> None:
        """Store one prediction; ``predicted_at`` defaults to now."""
        row = {
            "knr": knr,
            "model_version": model_version,
            "probability": probability,
            "decision": decision,
            "predicted_at": predicted_at or utc_now(),
            "features_as_of": features_as_of,
        }
        self.record_predictions(pl.DataFrame([row], schema=PREDICTIONS.schema()))

    def record_activation(
        self, model_name: str, model_version: str, at: dt.datetime | None = None
    ) -> None:
        """Record that ``model_version`` of ``model_name`` serves from ``at`` (default now)."""
        moment = at or utc_now()
        if moment.tzinfo is None:
            raise WarehouseError(
                f"Activation time {moment} has no time zone; give an aware UTC datetime."
            )
        with self.transaction() as tx:
            tx.update_activation(model_name, model_version, moment)

    def active_model_version(self, model_name: str, at: dt.datetime | None = None) -> str | None:
        """The version of ``model_name`` that served at ``at`` (default now), if any."""
        moment = at or utc_now()
        rows = self.read_table(MODEL_ACTIVATION.name, {"model_name": [model_name]}).filter(
            (pl.col("active_from") <= moment)
            & (pl.col("active_to").is_null() | (pl.col("active_to") > moment))
        )
        return None if rows.is_empty() else str(rows["model_version"][-1])


def _knr_filter(knrs: Iterable[str] | None) -> Filter | None:
    return None if knrs is None else {"knr": knrs}


def connect(url: str) -> Warehouse:
    """A warehouse on ``url``: ``duckdb:///path/file.duckdb`` or ``postgresql+psycopg://…``.

    A DuckDB file's folder is created when missing, and its connections are not
    pooled: DuckDB lets one process hold a file at a time, so a long-lived pool in
    the API would lock the ETL and the dashboard out. PostgreSQL sessions run in UTC
    so instants read back identically on both backends; only the psycopg (3) driver
    is accepted because bulk loads use its COPY support.
    """
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    pool: dict[str, Any] = {}
    if backend == "duckdb":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            pool["poolclass"] = NullPool
    elif backend == "postgresql":
        if parsed.drivername not in ("postgresql", "postgresql+psycopg"):
            raise WarehouseError(
                f"The warehouse talks to PostgreSQL through psycopg 3, not "
                f"{parsed.get_driver_name()!r}: use a postgresql+psycopg://user@host/db URL."
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args["options"] = "-c TimeZone=UTC"
    else:
        raise WarehouseError(
            f"The warehouse URL {parsed.render_as_string(hide_password=True)!r} is neither "
            "DuckDB (duckdb:///path) nor PostgreSQL (postgresql+psycopg://...)."
        )
    return Warehouse(sa.create_engine(parsed, connect_args=connect_args, **pool))
