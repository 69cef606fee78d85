"""Moving whole polars frames in and out of DuckDB and PostgreSQL, fast.

Row-by-row INSERTs through a DB-API driver manage a few thousand rows a second;
the fact tables hold millions. DuckDB reads an Arrow table in place, so a frame
is registered on the connection and inserted with one ``INSERT … SELECT``.
PostgreSQL's fastest path in is ``COPY … FROM STDIN``, fed with CSV that polars
writes natively; the fastest path out is ``COPY (query) TO STDOUT``, parsed by
polars. Both run on the connection of the caller's SQLAlchemy transaction, so a
bulk write commits or rolls back with everything else in it.

SQL given to these functions names tables and columns from the schema only;
values never appear in SQL text: filters are bound parameters (a few values) or
frames staged as temporary relations (many).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final, Protocol

import polars as pl
import psycopg
import sqlalchemy as sa

from roadtest.warehouse.errors import DuplicateKeyError
from roadtest.warehouse.schema import sql_type

_COPY_CHUNK_ROWS: Final = 200_000
"""Rows per CSV chunk sent to COPY: bounds the extra memory of a large load."""

FEW_ROWS: Final = 16
"""Up to this many rows are inserted with bound parameters: for a handful of rows (one
prediction, one round of health checks) registering an Arrow table or opening a COPY
costs more than the rows themselves."""

BOUND_VALUES_POSTGRES: Final = 10_000
"""Up to this many filter values are bound as one array parameter on PostgreSQL; more are
staged as a temporary table. For a batch request's few hundred KNRs, creating, filling and
dropping a table cost more than sending the array with the query."""

_PG_TIMESTAMP_FORMAT: Final = "%Y-%m-%d %H:%M:%S%.f"


def quote(identifier: str) -> str:
    """An identifier quoted for SQL on both backends."""
    return '"' + identifier.replace('"', '""') + '"'


def column_list(names: list[str] | tuple[str, ...]) -> str:
    """Comma-separated quoted column names."""
    return ", ".join(quote(n) for n in names)


class FrameIO(Protocol):
    """Bulk frame transfer on one backend, inside the caller's transaction."""

    def insert(self, conn: sa.Connection, table: str, df: pl.DataFrame) -> None:
        """Append the rows of ``df`` (columns named as the table's) to ``table``."""

    parameter: str
    """How the driver writes a bound parameter in SQL text."""

    max_bound_values: int
    """The most values of a filter bound as one array parameter; longer filters are staged."""

    packs_events: bool
    """Whether the warehouse keeps packed per-vehicle copies of the event mart here
    (``packed_events``): worth it where each row read costs its own transfer."""

    def query(
        self, conn: sa.Connection, sql: str, schema: pl.Schema, params: tuple[Any, ...] = ()
    ) -> pl.DataFrame:
        """Run a SELECT whose result columns are ``schema``; rows come back with its types.

        ``params`` are the values of the ``parameter`` markers in ``sql``, in order.
        """

    def staged(self, conn: sa.Connection, df: pl.DataFrame) -> AbstractContextManager[str]:
        """A temporary relation holding ``df`` for the duration of the block; yields its name."""


def conform_result(df: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Give a query result exactly the polars types of ``schema``.

    Backends report the same SQL type differently (DuckDB's SMALLINT is Int16,
    TIMESTAMPTZ comes in the session's zone); casting to the declared types makes
    both backends return identical frames.
    """
    return df.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def _stage_name() -> str:
    return f"_roadtest_stage_{uuid.uuid4().hex[:16]}"


def _raw(conn: sa.Connection) -> Any:
    """The driver connection under an SQLAlchemy connection (same session, same transaction)."""
    return conn.connection.driver_connection


def _insert_statement(table: str, df: pl.DataFrame, parameter: str) -> str:
    """An INSERT of one row of ``df``'s columns, each value a bound ``parameter``."""
    markers = ", ".join([parameter] * df.width)
    return f"INSERT INTO {quote(table)} ({column_list(df.columns)}) VALUES ({markers})"


class DuckDBFrameIO:
    """DuckDB: frames travel as Arrow tables registered on the connection."""

    def insert(self, conn: sa.Connection, table: str, df: pl.DataFrame) -> None:
        """One INSERT … SELECT from the registered Arrow table (bound rows for a few)."""
        if df.height == 0:
            return
        if df.height <= FEW_ROWS:
            _raw(conn).executemany(_insert_statement(table, df, self.parameter), df.rows())
            return
        with self.staged(conn, df) as stage:
            cols = column_list(df.columns)
            _raw(conn).execute(f"INSERT INTO {quote(table)} ({cols}) SELECT {cols} FROM {stage}")

    parameter = "?"
    max_bound_values = FEW_ROWS
    packs_events = False
    """DuckDB hands rows over as Arrow in place: a batch's 110,000 event rows read faster
    than its 500 packed values (220 against 320 ms in a 20,000-vehicle warehouse), and
    storing the values cost its checkpoint ~9 s per 20,000 vehicles."""

    def query(
        self, conn: sa.Connection, sql: str, schema: pl.Schema, params: tuple[Any, ...] = ()
    ) -> pl.DataFrame:
        """Fetch the result as Arrow, zero-copy into polars."""
        arrow = _raw(conn).sql(sql, params=params or None).to_arrow_table()
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        return conform_result(frame, schema)

    @contextmanager
    def staged(self, conn: sa.Connection, df: pl.DataFrame) -> Iterator[str]:
        """Register ``df`` as a view on the connection; unregistered afterwards."""
        name = _stage_name()
        raw = _raw(conn)
        raw.register(name, df.to_arrow())
        try:
            yield quote(name)
        finally:
            raw.unregister(name)


class PostgresFrameIO:
    """PostgreSQL: frames travel as CSV through COPY on the psycopg connection."""

    def insert(self, conn: sa.Connection, table: str, df: pl.DataFrame) -> None:
        """COPY the rows in as CSV, in chunks so a large frame is never doubled in memory.

        Polars writes an empty string as ``""`` and a null as nothing, which is exactly
        how PostgreSQL's CSV format tells the two apart. A few rows go as bound parameters.
        A row repeating a stored key raises ``DuplicateKeyError``.
        """
        try:
            self._insert(conn, table, df)
        except psycopg.errors.UniqueViolation as error:
            raise DuplicateKeyError(
                f"Rows for table {table} repeat the key of a stored row: "
                f"{error.diag.message_detail or error}"
            ) from error

    def _insert(self, conn: sa.Connection, table: str, df: pl.DataFrame) -> None:
        if df.height <= FEW_ROWS:
            with _raw(conn).cursor() as cursor:
                cursor.executemany(_insert_statement(table, df, self.parameter).encode(), df.rows())
            return
        statement = f"COPY {quote(table)} ({column_list(df.columns)}) FROM STDIN (FORMAT CSV)"
        with _raw(conn).cursor() as cursor, cursor.copy(statement.encode()) as copy:
            for offset in range(0, df.height, _COPY_CHUNK_ROWS):
                buffer = io.BytesIO()
                chunk = df.slice(offset, _COPY_CHUNK_ROWS).with_columns(_bytea_text(df.schema))
                chunk.write_csv(buffer, include_header=False)
                copy.write(buffer.getvalue())

    parameter = "%s"
    max_bound_values = BOUND_VALUES_POSTGRES
    packs_events = True
    """Each row read is formatted, sent and taken one by one (~2 µs): a batch of 500
    vehicles' events cost ~170 ms as rows and ~35 ms as packed values."""

    def query(
        self, conn: sa.Connection, sql: str, schema: pl.Schema, params: tuple[Any, ...] = ()
    ) -> pl.DataFrame:
        """COPY the result out as CSV and parse it with the declared types.

        A query whose parameters hold a few values selects a few keys' rows
        (``Transaction.read_table``): those are fetched as rows, which for a few
        hundred rows costs less than writing and parsing CSV. So are results with
        binary columns, in the binary protocol: as CSV, ``bytea`` travels as hex
        text, twice its size, written and parsed on both sides.
        """
        if any(dtype == pl.Binary for dtype in schema.values()):
            return _fetch_rows(conn, sql, params, schema, binary=True)
        if params and _value_count(params) <= FEW_ROWS:
            return _fetch_rows(conn, sql, params, schema)
        buffer = io.BytesIO()
        statement = f"COPY ({sql}) TO STDOUT (FORMAT CSV)"
        with _raw(conn).cursor() as cursor, cursor.copy(statement.encode(), params or None) as copy:
            for chunk in copy:
                buffer.write(chunk)
        read_schema = {name: _csv_read_type(dtype) for name, dtype in schema.items()}
        buffer.seek(0)
        frame = pl.read_csv(buffer, has_header=False, schema=read_schema, raise_if_empty=False)
        return conform_result(
            frame.select(_parse_text(name, schema[name]) for name in schema), schema
        )

    @contextmanager
    def staged(self, conn: sa.Connection, df: pl.DataFrame) -> Iterator[str]:
        """A temporary table filled by COPY, dropped at the end of the block."""
        name = _stage_name()
        columns = [
            sa.Column(n, sql_type(t, f"Column {n} of a staged frame")) for n, t in df.schema.items()
        ]
        table = sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])
        table.create(conn)
        try:
            self.insert(conn, name, df)
            yield quote(name)
        finally:
            table.drop(conn)


def _value_count(params: tuple[Any, ...]) -> int:
    """How many values the parameters bind, counting each element of an array parameter."""
    return sum(len(p) if isinstance(p, list | tuple) else 1 for p in params)


def _fetch_rows(
    conn: sa.Connection,
    sql: str,
    params: tuple[Any, ...],
    schema: pl.Schema,
    binary: bool = False,
) -> pl.DataFrame:
    """The rows of a parameterised SELECT, fetched through the driver, with ``schema``'s types.

    ``binary`` asks for the binary protocol, in which the driver takes ``bytea`` as it is.
    """
    with _raw(conn).cursor(binary=binary) as cursor:
        cursor.execute(sql.encode(), params or None)
        rows = cursor.fetchall()
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame if frame.schema == schema else conform_result(frame, schema)


def _bytea_text(schema: pl.Schema) -> list[pl.Expr]:
    """Binary columns as the hex text PostgreSQL's CSV input reads as ``bytea`` (polars
    writes no binary column as CSV)."""
    return [
        pl.concat_str(pl.lit("\\x"), pl.col(name).bin.encode("hex")).alias(name)
        for name, dtype in schema.items()
        if dtype == pl.Binary
    ]


def _csv_read_type(dtype: pl.DataType) -> pl.DataType:
    """How a column of PostgreSQL's CSV output is read before conversion.

    Integers and floats parse directly; booleans (``t``/``f``), dates and timestamps
    are read as text and converted with explicit formats, never guessed.
    """
    if dtype.is_integer():
        return pl.Int64()
    if dtype.is_float():
        return pl.Float64()
    return pl.String()


def _parse_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """The expression turning a column read by ``_csv_read_type`` into ``dtype``."""
    col = pl.col(name)
    if dtype == pl.Boolean:
        return (col == "t").alias(name)
    if dtype == pl.Date:
        return col.str.to_date("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col.str.to_datetime(_PG_TIMESTAMP_FORMAT, time_unit="us")
        return col.str.to_datetime(
            _PG_TIMESTAMP_FORMAT + "%#z", time_unit="us"
        ).dt.convert_time_zone("UTC")
    return col


def frame_io(dialect: str) -> FrameIO:
    """The bulk transfer for a SQLAlchemy dialect name."""
    if dialect == "duckdb":
        return DuckDBFrameIO()
    if dialect == "postgresql":
        return PostgresFrameIO()
    raise ValueError(
        f"The warehouse supports DuckDB and PostgreSQL, not {dialect!r}; "
        "use a duckdb:///path or postgresql+psycopg://... URL."
    )
