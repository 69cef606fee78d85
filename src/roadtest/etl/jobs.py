"""The ETL job: bronze Delta tables → warehouse, incremental, idempotent, checked.

Incremental by vehicle. The warehouse remembers (``etl_state``) the Delta
version of each bronze table it reflects. A run compares the files present now
with those present at that version; every vehicle with a row in a new (or
removed) file is *affected*. The complete bronze history of the affected
vehicles — all three tables, old files included — goes through the transforms,
and their rows are replaced in the warehouse. So a late FALHAS export or a
re-sent, corrected file rebuilds exactly the vehicles it mentions, from
everything known about them, and a run with nothing new changes nothing.

The derived spec windows (``dim_test``) are the one thing a vehicle's features
take from other vehicles. Every run derives them from the whole bronze
population and hands them to the transforms, so a vehicle's margins do not
depend on which vehicles happened to be rebuilt with it; a vehicle keeps the
windows of the run that last rebuilt it.

Checked and atomic. Data-quality checks run on the transformed frames and,
after writing, on the references as the warehouse then holds them; the rows,
the check report, the new ``etl_state`` and the run record commit together. A
failed hard check rolls everything back and records the failed run with its
reason, so the warehouse stays exactly as it was.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import polars as pl

from roadtest.contracts.partner import SourceTable, bronze_schema
from roadtest.contracts.warehouse import TRANSFORM_TABLES
from roadtest.etl.engines import ENGINES, Engine, run_transforms
from roadtest.etl.quality import CheckResult, check_load, check_references, hard_failures
from roadtest.lake import Lake
from roadtest.progress import NO_PROGRESS, Progress
from roadtest.warehouse import Transaction, Warehouse
from roadtest.warehouse.schema import DQ_CHECK, ETL_RUN, ETL_STATE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Outcome = Literal["loaded", "nothing new", "failed"]

_DIMENSIONS: Final = tuple(spec for spec in TRANSFORM_TABLES if spec.name.startswith("dim_"))


@dataclass
class EtlSummary:
    """What one ETL run did; ``to_dict`` is the ``roadtest etl --json`` output."""

    run_id: str
    engine: str
    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    message: str
    bronze_versions: dict[str, int | None] = field(default_factory=dict)
    new_files: dict[str, int] = field(default_factory=dict)
    vehicles_affected: int = 0
    vehicles_labelled: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False when the run failed (the CLI exits non-zero)."""
        return self.outcome != "failed"

    @property
    def duration_s(self) -> float:
        """Wall-clock seconds of the run."""
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def checks_passed(self) -> int:
        """Checks that passed."""
        return sum(c.passed for c in self.checks)

    @property
    def checks_failed(self) -> int:
        """Checks that failed, hard and soft."""
        return len(self.checks) - self.checks_passed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "outcome": self.outcome,
            "message": self.message,
            "engine": self.engine,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "bronze_versions": self.bronze_versions,
            "new_files": self.new_files,
            "vehicles_affected": self.vehicles_affected,
            "vehicles_labelled": self.vehicles_labelled,
            "rows_loaded": self.rows_loaded,
            "checks_passed": self.checks_passed,
            "checks_failed": self.checks_failed,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class BronzeChanges:
    """What the lake holds beyond what the warehouse reflects."""

    versions: dict[SourceTable, int | None]
    new_files: dict[SourceTable, set[str]]
    removed_files: dict[SourceTable, set[str]]

    @property
    def any_file_changes(self) -> bool:
        """Some bronze table gained or lost files since its consumed version."""
        return any(
            f or r
            for f, r in zip(self.new_files.values(), self.removed_files.values(), strict=True)
        )


class DataQualityError(Exception):
    """A hard data-quality check failed; the load is rolled back."""

    def __init__(self, failures: list[CheckResult]) -> None:
        self.failures = failures
        details = "; ".join(f"{c.name}: {c.message}" for c in failures)
        super().__init__(
            f"Load stopped, the warehouse is unchanged: {len(failures)} hard data-quality "
            f"check(s) failed — {details}."
        )


def local_spark_session(driver_memory: str = "4g") -> SparkSession:
    """A local Spark session for ``engine="spark"``; pyspark is imported only then.

    Spark binds to the first non-loopback interface unless told otherwise; the
    session is kept on 127.0.0.1 so a local ETL never talks to the network. The
    bronze frames enter Spark through the driver, hence a driver larger than
    Spark's 1 GB default (a 20,000-vehicle plant needs about 8 GB; pass a session
    of your own to ``run_etl`` for more).
    """
    from pyspark.sql import SparkSession  # optional dependency (the ``spark`` extra)

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    builder: Any = SparkSession.builder
    return (
        builder.master("local[2]")
        .appName("roadtest-etl")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", driver_memory)
        .getOrCreate()
    )


def find_changes(lake: Lake, consumed: Mapping[str, int]) -> BronzeChanges:
    """Files added to or removed from each bronze table since the consumed versions."""
    versions: dict[SourceTable, int | None] = {}
    new_files: dict[SourceTable, set[str]] = {}
    removed: dict[SourceTable, set[str]] = {}
    for table in SourceTable:
        now = lake.bronze_version(table)
        before = consumed.get(table.value)
        versions[table] = now
        if now is None or now == before:
            new_files[table], removed[table] = set(), set()
            continue
        present = lake.bronze_file_hashes(table, now)
        earlier = set() if before is None else lake.bronze_file_hashes(table, before)
        new_files[table], removed[table] = present - earlier, earlier - present
    return BronzeChanges(versions, new_files, removed)


def read_bronze(lake: Lake, changes: BronzeChanges) -> dict[SourceTable, pl.DataFrame]:
    """Each bronze table at the version this run consumes (empty when it does not exist)."""
    return {
        table: pl.DataFrame(schema=bronze_schema(table))
        if version is None
        else lake.read_bronze(table, version)
        for table, version in changes.versions.items()
    }


def affected_vehicles(
    lake: Lake,
    bronze: Mapping[SourceTable, pl.DataFrame],
    changes: BronzeChanges,
    consumed: Mapping[str, int],
) -> list[str]:
    """KNRs with a row in a new file, or in a file that has since left bronze."""
    knrs: set[str] = set()
    for table, frame in bronze.items():
        new = changes.new_files[table]
        if new:
            knrs.update(frame.filter(pl.col("_file_hash").is_in(sorted(new)))["KNR"].to_list())
        gone = changes.removed_files[table]
        if gone:
            earlier = lake.read_bronze(table, consumed[table.value])
            knrs.update(earlier.filter(pl.col("_file_hash").is_in(sorted(gone)))["KNR"].to_list())
    return sorted(knrs)


def vehicle_history(
    bronze: Mapping[SourceTable, pl.DataFrame], knrs: list[str]
) -> dict[SourceTable, pl.DataFrame]:
    """Every bronze row of the given vehicles, old files included.

    When they are all the vehicles bronze has (a first load) that is bronze
    itself, returned as is rather than copied.
    """
    population = pl.concat([frame.select("KNR") for frame in bronze.values()]).unique()
    if population.height == len(knrs):
        return dict(bronze)
    wanted = pl.DataFrame({"KNR": knrs}, schema={"KNR": pl.String()})
    return {table: frame.join(wanted, on="KNR", how="semi") for table, frame in bronze.items()}


def transform_vehicles(
    bronze: Mapping[SourceTable, pl.DataFrame],
    history: Mapping[SourceTable, pl.DataFrame],
    engine: Engine,
    spark: SparkSession | None,
) -> dict[str, pl.DataFrame]:
    """Warehouse tables of the affected vehicles, with spec windows of the whole population.

    When the history is all of bronze (a first load) one pass gives both;
    otherwise the windows come from a ``dim_test``-only pass over all of bronze
    and replace the subset's own.
    """
    if all(history[table] is frame for table, frame in bronze.items()):
        return run_transforms(history, engine, spark)
    windows = run_transforms(bronze, engine, spark, tables=["dim_test"])["dim_test"]
    return {**run_transforms(history, engine, spark, spec_windows=windows), "dim_test": windows}


def _dimension_keys(tx: Transaction) -> dict[str, pl.DataFrame]:
    return {spec.name: tx.read_table(spec.name, columns=spec.primary_key) for spec in _DIMENSIONS}


def _state_rows(changes: BronzeChanges, run_id: str, at: datetime) -> pl.DataFrame:
    rows = [
        {"source_table": t.value, "delta_version": v, "run_id": run_id, "updated_at": at}
        for t, v in changes.versions.items()
        if v is not None
    ]
    return pl.DataFrame(rows, schema=ETL_STATE.schema())


def _check_rows(run_id: str, checks: list[CheckResult]) -> pl.DataFrame:
    rows = [
        {
            "run_id": run_id,
            "check_name": c.name,
            "severity": c.severity,
            "passed": c.passed,
            "observed": c.observed,
            "threshold": c.threshold,
            "message": c.message,
        }
        for c in checks
    ]
    return pl.DataFrame(rows, schema=DQ_CHECK.schema())


def _run_row(summary: EtlSummary) -> pl.DataFrame:
    row = {
        "run_id": summary.run_id,
        "started_at": summary.started_at,
        "finished_at": summary.finished_at,
        "engine": summary.engine,
        "outcome": summary.outcome,
        "bronze_versions": json.dumps(summary.bronze_versions, sort_keys=True),
        "rows_loaded": json.dumps(summary.rows_loaded, sort_keys=True),
        "vehicles_affected": summary.vehicles_affected,
        "vehicles_labelled": summary.vehicles_labelled,
        "checks_passed": summary.checks_passed,
        "checks_failed": summary.checks_failed,
        "message": summary.message,
    }
    return pl.DataFrame([row], schema=ETL_RUN.schema())


def _finish(summary: EtlSummary, outcome: Outcome, message: str) -> EtlSummary:
    summary.outcome = outcome
    summary.message = message
    summary.finished_at = datetime.now(UTC)
    return summary


def _load(
    warehouse: Warehouse,
    summary: EtlSummary,
    tables: Mapping[str, pl.DataFrame],
    knrs: list[str],
    changes: BronzeChanges,
    progress: Progress,
) -> None:
    """Write, check references, record — one transaction; raises DataQualityError to roll back."""
    with warehouse.transaction() as tx:
        progress.start("load", total=len(tables))
        summary.rows_loaded = tx.replace_vehicles(tables, knrs, check_keys=False)
        progress.finish("load")
        summary.checks += check_references(tables, _dimension_keys(tx))
        failures = hard_failures(summary.checks)
        if failures:
            raise DataQualityError(failures)
        _finish(summary, "loaded", f"Rebuilt {len(knrs)} vehicle(s) from new bronze files.")
        tx.append_rows(DQ_CHECK.name, _check_rows(summary.run_id, summary.checks))
        tx.upsert_rows(ETL_STATE.name, _state_rows(changes, summary.run_id, summary.finished_at))
        tx.append_rows(ETL_RUN.name, _run_row(summary))


def _record_failure(warehouse: Warehouse, summary: EtlSummary, message: str) -> EtlSummary:
    """Store the failed run and its checks, after the load's own transaction rolled back."""
    _finish(summary, "failed", message)
    summary.rows_loaded = {}
    with warehouse.transaction() as tx:
        tx.append_rows(DQ_CHECK.name, _check_rows(summary.run_id, summary.checks))
        tx.append_rows(ETL_RUN.name, _run_row(summary))
    return summary


def run_etl(
    lake: Lake,
    warehouse: Warehouse,
    engine: Engine = "polars",
    progress: Progress = NO_PROGRESS,
    spark: SparkSession | None = None,
) -> EtlSummary:
    """Bring the warehouse up to date with the lake's bronze tables (see the module docstring).

    Returns the run's summary; a run stopped by a failed hard check returns with
    ``outcome == "failed"`` and the reason in ``message`` (the warehouse untouched).
    Unexpected errors are recorded as a failed run and raised.
    """
    if engine not in ENGINES:
        raise ValueError(
            f"Unknown transform engine {engine!r}; choose one of {', '.join(ENGINES)}."
        )
    start = datetime.now(UTC)
    summary = EtlSummary(uuid.uuid4().hex, engine, start, start, "failed", "")
    warehouse.migrate()
    try:
        consumed = warehouse.read_etl_state()
        changes = find_changes(lake, consumed)
        summary.bronze_versions = {t.value: v for t, v in changes.versions.items()}
        summary.new_files = {t.value: len(f) for t, f in changes.new_files.items()}
        if not changes.any_file_changes:
            _finish(summary, "nothing new", "No new bronze files since the last run.")
            with warehouse.transaction() as tx:
                tx.append_rows(ETL_RUN.name, _run_row(summary))
            return summary
        progress.start("read bronze", total=len(SourceTable))
        bronze = read_bronze(lake, changes)
        knrs = affected_vehicles(lake, bronze, changes, consumed)
        history = vehicle_history(bronze, knrs)
        progress.finish("read bronze")
        summary.vehicles_affected = len(knrs)
        progress.start("transform", total=len(knrs))
        tables = transform_vehicles(bronze, history, engine, _spark_for(engine, spark))
        progress.finish("transform")
        summary.vehicles_labelled = tables["vehicle_label"].height
        progress.start("check", total=None)
        summary.checks = check_load(tables, history)
        progress.finish("check")
        failures = hard_failures(summary.checks)
        if failures:
            raise DataQualityError(failures)
        _load(warehouse, summary, tables, knrs, changes, progress)
        return summary
    except DataQualityError as stop:
        return _record_failure(warehouse, summary, str(stop))
    except Exception as error:
        _record_failure(warehouse, summary, f"ETL failed, the warehouse is unchanged: {error}")
        raise


def _spark_for(engine: str, spark: SparkSession | None) -> SparkSession | None:
    """The Spark session the transforms need: the caller's, or a local one for spark only."""
    if engine != "spark":
        return None
    return spark if spark is not None else local_spark_session()
