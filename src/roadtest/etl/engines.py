"""Running the transforms on an engine: Polars (default), DuckDB or PySpark.

``build_warehouse_tables`` is engine-free; this module converts polars inputs
to each engine's native lazy frames, runs it, and collects every table back to
polars with exactly the contract's schema, sorted by primary key (Spark and
DuckDB guarantee no row order, so the order is imposed here, on collection).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Literal

import narwhals as nw
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from roadtest.contracts.partner import SourceTable, bronze_schema
from roadtest.contracts.warehouse import TRANSFORM_TABLES, table_spec
from roadtest.etl.transforms import build_warehouse_tables

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

    from roadtest.lake import Lake

Engine = Literal["polars", "duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("polars", "duckdb", "spark")


def run_transforms(
    bronze: Mapping[SourceTable, pl.DataFrame],
    engine: Engine = "polars",
    spark: SparkSession | None = None,
    *,
    spec_windows: pl.DataFrame | None = None,
    tables: Collection[str] | None = None,
) -> dict[str, pl.DataFrame]:
    """Every warehouse table (or only ``tables``) computed by ``engine`` from bronze frames.

    Output frames have exactly the contract schema and are sorted by primary key,
    so the three engines give equal frames. ``spec_windows``: see
    ``build_warehouse_tables``; ``tables`` limits what is collected, e.g.
    ``tables=["dim_test"]`` over the whole lake gives population-wide spec windows
    for an incremental run.
    """
    wanted = _wanted(tables)
    if engine == "polars":
        return _run_polars(bronze, spec_windows, wanted)
    if engine == "duckdb":
        return _run_duckdb(bronze, spec_windows, wanted)
    if engine == "spark":
        if spark is None:
            raise ValueError("engine='spark' needs a SparkSession (argument spark).")
        return _run_spark(spark, bronze, spec_windows, wanted)
    raise ValueError(f"Unknown transform engine {engine!r}; choose one of {', '.join(ENGINES)}.")


def _wanted(tables: Collection[str] | None) -> list[str]:
    if tables is None:
        return [spec.name for spec in TRANSFORM_TABLES]
    for name in tables:
        table_spec(name)
    return [spec.name for spec in TRANSFORM_TABLES if spec.name in set(tables)]


def finish_table(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A collected table with the contract's exact types, sorted by its primary key."""
    spec = table_spec(name)
    typed = frame.select(pl.col(c.name).cast(c.dtype) for c in spec.columns)
    return typed.sort(list(spec.primary_key))


def _build(
    bronze: Mapping[SourceTable, Any],
    spec_windows: Any | None,
    wanted: list[str],
    to_lazy: Callable[[Any], nw.LazyFrame],
    materialize: Callable[[nw.LazyFrame], nw.LazyFrame] | None = None,
) -> dict[str, nw.LazyFrame]:
    lazy = {table: to_lazy(frame) for table, frame in bronze.items()}
    windows = None if spec_windows is None else to_lazy(spec_windows)
    built = build_warehouse_tables(lazy, spec_windows=windows, materialize=materialize)
    return {name: built[name] for name in wanted}


def _collected(frame: nw.LazyFrame) -> nw.LazyFrame:
    return nw.from_native(frame.to_native().collect().lazy())


def _run_polars(
    bronze: Mapping[SourceTable, pl.DataFrame],
    spec_windows: pl.DataFrame | None,
    wanted: list[str],
) -> dict[str, pl.DataFrame]:
    # For several tables, collecting the shared stages is much faster than one
    # collect_all over the whole graph (common-subplan elimination misses much
    # of the reuse); for a single table the lazy graph prunes what it needs.
    stage = _collected if len(wanted) > 1 else None
    built = _build(bronze, spec_windows, wanted, lambda df: nw.from_native(df.lazy()), stage)
    collected = pl.collect_all([frame.to_native() for frame in built.values()])
    return {name: finish_table(name, df) for name, df in zip(built, collected, strict=True)}


def _run_duckdb(
    bronze: Mapping[SourceTable, pl.DataFrame],
    spec_windows: pl.DataFrame | None,
    wanted: list[str],
) -> dict[str, pl.DataFrame]:
    import duckdb

    with duckdb.connect(":memory:") as con:
        arrow_inputs: list[pa.Table] = []

        def to_lazy(df: pl.DataFrame) -> nw.LazyFrame:
            table = df.to_arrow()
            arrow_inputs.append(table)  # the relation reads it lazily: keep it alive
            return nw.from_native(con.from_arrow(table))

        stages = itertools.count()

        def materialize(frame: nw.LazyFrame) -> nw.LazyFrame:
            name = f"stage_{next(stages)}"
            frame.to_native().create(name)
            return nw.from_native(con.table(name))

        built = _build(bronze, spec_windows, wanted, to_lazy, materialize)
        return {
            name: finish_table(name, frame.collect("polars").to_native())
            for name, frame in built.items()
        }


def _spark_frame(spark: SparkSession, df: pl.DataFrame) -> SparkDataFrame:
    """A Spark DataFrame of ``df``; naive datetimes stay naive (TIMESTAMP_NTZ)."""
    from pyspark.sql import functions as sf

    sdf = spark.createDataFrame(df.to_arrow())
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            sdf = sdf.withColumn(name, sf.col(name).cast("timestamp_ntz"))
    return sdf


def _run_spark(
    spark: SparkSession,
    bronze: Mapping[SourceTable, pl.DataFrame],
    spec_windows: pl.DataFrame | None,
    wanted: list[str],
) -> dict[str, pl.DataFrame]:
    built = _build(
        bronze,
        spec_windows,
        wanted,
        lambda df: nw.from_native(_spark_frame(spark, df)),
        # Eager and lineage-cutting: later plans start from the stored stage.
        lambda frame: nw.from_native(frame.to_native().localCheckpoint()),
    )
    return {
        name: finish_table(name, frame.collect("polars").to_native())
        for name, frame in built.items()
    }


def read_bronze_spark(
    spark: SparkSession, lake: Lake, table: SourceTable, version: int | None = None
) -> SparkDataFrame:
    """A bronze table (at ``version``) as a Spark DataFrame, read by Spark itself.

    For runs where the data should not pass through this process: wrap each
    table with ``narwhals.from_native`` and hand them to ``build_warehouse_tables``.

    The Delta Lake Spark connector's jars cannot be downloaded in this
    environment, so the snapshot's file list comes from ``deltalake`` and Spark
    reads those parquet files directly. That is exact for the lake's bronze
    tables (unpartitioned, no deletion vectors: deletes rewrite files) and works
    for local lakes only; an S3 lake would need Spark's S3 filesystem jars.
    """
    uri = lake.table_uri(table.value)
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(
            f"Spark can read only a lake on a local folder here, not {uri!r}: "
            "use engine='polars' or 'duckdb' for a lake on S3."
        )
    schema = bronze_schema(table)
    if not DeltaTable.is_deltatable(uri):
        if version is not None:
            raise ValueError(
                f"Bronze table {table.value} does not exist, so has no version {version}."
            )
        return _spark_frame(spark, pl.DataFrame(schema=schema))
    files = DeltaTable(uri, version=version).file_uris()
    if not files:
        return _spark_frame(spark, pl.DataFrame(schema=schema))
    from pyspark.sql import functions as sf

    frame = spark.read.parquet(*files)
    return frame.select(
        *(
            sf.col(name).cast("timestamp_ntz")
            if isinstance(dtype, pl.Datetime) and dtype.time_zone is None
            else sf.col(name)
            for name, dtype in schema.items()
        )
    )
