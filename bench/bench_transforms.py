"""Bronze → warehouse transforms on each engine, as a ratio to Polars on the same bronze.

Simulates a plant, turns its exports into bronze rows with the lake's validation
(in memory, no Delta round trip), then times ``run_transforms`` on Polars, DuckDB
and (unless ``--no-spark``) a local[2] PySpark session, side by side in one run.
A bare Polars group-by of the bronze per vehicle is printed as the floor.

    python bench/bench_transforms.py [--vehicles 20000] [--no-spark]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import polars as pl

from roadtest.contracts.partner import SourceTable
from roadtest.etl.engines import ENGINES, run_transforms
from roadtest.lake import validate_rows
from roadtest.simulate import PlantConfig, simulate_plant


def to_bronze(exports: dict[SourceTable, pl.DataFrame]) -> dict[SourceTable, pl.DataFrame]:
    """Export-form frames → typed bronze rows, one 'file' per table."""
    bronze = {}
    for table, frame in exports.items():
        raw = frame.select(pl.all().cast(pl.String)).with_columns(
            _file_hash=pl.lit(hashlib.sha256(table.value.encode()).hexdigest()),
            _source_file=pl.lit(f"{table.value.lower()}.parquet"),
            _sheet=pl.lit(None, pl.String),
            _row_number=pl.int_range(1, frame.height + 1, dtype=pl.Int64),
            _ingested_at=pl.lit(datetime(2024, 6, 1, tzinfo=UTC)),
        )
        bronze[table], _ = validate_rows(raw, table)
    return bronze


def floor(bronze: dict[SourceTable, pl.DataFrame]) -> float:
    """Seconds for the least any transform must do: one pass per table, grouped by vehicle."""
    start = time.perf_counter()
    for frame in bronze.values():
        frame.lazy().group_by("KNR").agg(pl.len(), pl.col("DATA").min()).collect()
    return time.perf_counter() - start


def local_spark() -> Any:
    """A local[2] session configured like the test fixture (loopback only, UTC)."""
    from pyspark.sql import SparkSession

    builder: Any = SparkSession.builder
    session = (
        builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.python.sql.dataFrameDebugging.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=20_000)
    parser.add_argument("--no-spark", action="store_true", help="skip the PySpark engine")
    args = parser.parse_args()

    plant = simulate_plant(PlantConfig(vehicles=args.vehicles, seed=7))
    bronze = to_bronze(plant.tables())
    rows = {t.value: f.height for t, f in bronze.items()}
    print(f"{args.vehicles} vehicles, bronze rows {rows}")
    base = floor(bronze)
    print(f"{'floor (group-by)':<18} {base:8.1f} s")
    timings: dict[str, float] = {}
    engines = [e for e in ENGINES if not (args.no_spark and e == "spark")]
    for engine in engines:
        spark = local_spark() if engine == "spark" else None
        start = time.perf_counter()
        tables = run_transforms(bronze, engine=engine, spark=spark)
        timings[engine] = time.perf_counter() - start
        events = tables["mart_vehicle_events"].height
        ratio = timings[engine] / timings["polars"]
        print(
            f"{engine:<18} {timings[engine]:8.1f} s  x{ratio:5.2f} vs polars  "
            f"x{timings[engine] / base:6.1f} vs floor  ({events} events)"
        )


if __name__ == "__main__":
    main()
