"""ETL time and peak memory, as a ratio to a bare Polars scan + group-by of the same bronze.

Simulates a plant, ingests its parquet exports into a local lake, then measures,
each in a fresh process (so peak memory is that step's own):

- floor: Polars scans the three bronze Delta tables and groups them by vehicle —
  the least any ETL over this data must do;
- etl: ``run_etl`` into an empty warehouse (Polars transforms, DuckDB file by
  default), with its read / transform / check / load split and the load's rows/s;
- rerun: ``run_etl`` again with nothing new (the cost of an idle scheduled run);
- spark: the same first ETL with the Spark engine, for the record (session start
  not counted);
- the first ETL on every further ``--warehouse-url`` (e.g. a PostgreSQL database
  the bench may empty), to compare bulk-load speed across backends.

    python bench/bench_etl.py [--vehicles 20000] [--no-spark] [--warehouse-url URL ...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from roadtest.contracts.partner import SourceTable
from roadtest.etl.jobs import local_spark_session, run_etl
from roadtest.lake import Lake, ingest_paths
from roadtest.simulate import PlantConfig, simulate_plant, write_exports
from roadtest.warehouse import WAREHOUSE_TABLES, connect
from roadtest.warehouse.schema import warehouse_metadata


@dataclass
class StepTimer:
    """A Progress that records how long each named step took."""

    seconds: dict[str, float] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)

    def start(self, step: str, total: int | None = None) -> None:
        self._started[step] = time.perf_counter()

    def advance(self, step: str, amount: int = 1) -> None:
        """Steps are timed whole."""

    def finish(self, step: str) -> None:
        self.seconds[step] = time.perf_counter() - self._started.pop(step)


@dataclass(frozen=True)
class Measurement:
    """One measured step."""

    label: str
    seconds: float
    peak_mb: float
    detail: str = ""


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Read from VmHWM, which starts afresh when a process is spawned; ``ru_maxrss``
    would carry over the parent's peak (the simulation) into every child.
    """
    status = Path("/proc/self/status").read_text()
    line = next(row for row in status.splitlines() if row.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def floor_scan(lake_uri: str) -> dict[str, Any]:
    """The bare minimum: scan every bronze table and aggregate it per vehicle."""
    start = time.perf_counter()
    lake = Lake(lake_uri)
    rows = 0
    for table in SourceTable:
        scan = pl.scan_delta(lake.table_uri(table.value), storage_options=lake.storage_options)
        per_vehicle = (
            scan.group_by("KNR")
            .agg(
                pl.len().alias("rows"),
                pl.col("DATA").min().alias("first"),
                pl.col("DATA").max().alias("last"),
            )
            .collect()
        )
        rows += int(per_vehicle["rows"].sum())
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_mb(), "rows": rows}


def reset_warehouse(url: str) -> None:
    """Drop every warehouse table, so a run starts from an empty warehouse."""
    warehouse = connect(url)
    warehouse_metadata(WAREHOUSE_TABLES.values()).drop_all(warehouse.engine, checkfirst=True)
    warehouse.dispose()


def etl_run(lake_uri: str, url: str, engine: str, spark_memory: str = "") -> dict[str, Any]:
    """One ETL run; returns its time, peak memory, step times and rows loaded (or its error).

    The Spark session is started before the clock, with ``spark_memory`` of driver heap.
    """
    lake = Lake(lake_uri)
    warehouse = connect(url)
    timer = StepTimer()
    spark = local_spark_session(spark_memory) if engine == "spark" else None
    start = time.perf_counter()
    try:
        summary = run_etl(lake, warehouse, engine, timer, spark)  # type: ignore[arg-type]
    except Exception as error:  # reported in the table, so the other measurements survive
        return {"seconds": time.perf_counter() - start, "peak_mb": peak_mb(), "error": repr(error)}
    finally:
        warehouse.dispose()
    seconds = time.perf_counter() - start
    if not summary.ok:
        return {"seconds": seconds, "peak_mb": peak_mb(), "error": summary.message}
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "steps": timer.seconds,
        "rows": sum(summary.rows_loaded.values()),
        "vehicles": summary.vehicles_affected,
        "outcome": summary.outcome,
    }


def in_child(function: Callable[..., dict[str, Any]], *args: object) -> dict[str, Any]:
    """Run ``function`` in a fresh process so its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(function, args)
    return result


def describe_etl(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"FAILED: {result['error'][:300]}"
    steps = result["steps"]
    load = steps.get("load", 0.0)
    parts = [f"{name} {seconds:.1f}s" for name, seconds in steps.items()]
    rate = f"; load {result['rows'] / load:,.0f} rows/s" if load else ""
    return f"{result['vehicles']:,} vehicles, {result['rows']:,} rows; " + ", ".join(parts) + rate


def prepare_lake(vehicles: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Simulate, export as parquet, ingest; returns the lake URI."""
    start = time.perf_counter()
    plant = simulate_plant(PlantConfig(vehicles=vehicles, seed=seed))
    write_exports(plant, workdir / "exports", "parquet", workdir / "truth")
    lake_uri = str(workdir / "lake")
    summary = ingest_paths(Lake(lake_uri), [workdir / "exports"])
    print(
        f"prepared {vehicles:,} vehicles, {summary.totals['rows_bronze']:,} bronze rows "
        f"in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    return {"lake_uri": lake_uri}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark engine run")
    parser.add_argument("--spark-memory", default="8g", help="Spark driver heap (local mode)")
    parser.add_argument(
        "--warehouse-url",
        action="append",
        default=[],
        help="another warehouse to load (its tables are dropped first); repeatable",
    )
    args = parser.parse_args()

    print(f"{'step':<30}{'seconds':>9}{'peak MB':>9}{'× floor':>9}  detail")
    with tempfile.TemporaryDirectory(prefix="bench-etl-") as tmp:
        workdir = Path(tmp)
        lake_uri = in_child(prepare_lake, args.vehicles, args.seed, workdir)["lake_uri"]
        duckdb_url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
        floor = in_child(floor_scan, lake_uri)
        show(Measurement("floor: polars scan+group-by", floor["seconds"], floor["peak_mb"]), floor)
        first = in_child(etl_run, lake_uri, duckdb_url, "polars")
        show(
            Measurement(
                "etl polars → duckdb", first["seconds"], first["peak_mb"], describe_etl(first)
            ),
            floor,
        )
        rerun = in_child(etl_run, lake_uri, duckdb_url, "polars")
        show(
            Measurement(
                "rerun, nothing new",
                rerun["seconds"],
                rerun["peak_mb"],
                rerun.get("outcome", describe_etl(rerun)),
            ),
            floor,
        )
        for url in args.warehouse_url:
            reset_warehouse(url)
            other = in_child(etl_run, lake_uri, url, "polars")
            backend = sa.make_url(url).get_backend_name()
            show(
                Measurement(
                    f"etl polars → {backend}",
                    other["seconds"],
                    other["peak_mb"],
                    describe_etl(other),
                ),
                floor,
            )
        if not args.no_spark:
            reset_warehouse(duckdb_url)
            spark = in_child(etl_run, lake_uri, duckdb_url, "spark", args.spark_memory)
            show(
                Measurement(
                    "etl spark → duckdb", spark["seconds"], spark["peak_mb"], describe_etl(spark)
                ),
                floor,
            )
    print("× floor = seconds / the bare Polars scan + group-by of the same bronze tables")


def show(measurement: Measurement, floor: dict[str, Any]) -> None:
    """Print one row of the result table as soon as it is measured."""
    m = measurement
    ratio = m.seconds / floor["seconds"]
    print(f"{m.label:<30}{m.seconds:>9.2f}{m.peak_mb:>9.0f}{ratio:>9.1f}  {m.detail}", flush=True)


if __name__ == "__main__":
    main()
