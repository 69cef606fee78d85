"""The ETL job end to end: bronze in a lake → warehouse, on DuckDB and PostgreSQL.

Each test builds a few vehicles with known stories (see ``test_etl_job_support``)
so it can say exactly which vehicles a new file must change and how.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roadtest.contracts.partner import SourceTable
from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, TRANSFORM_TABLES
from roadtest.etl import jobs
from roadtest.etl.jobs import run_etl
from roadtest.lake import Lake
from roadtest.warehouse import WAREHOUSE_TABLES, Warehouse, connect
from roadtest.warehouse.schema import VEHICLE_EVENT_BATCHES
from tests.integration.test_etl_job_support import (
    Car,
    file_hash,
    ingest_day,
    ingest_late_line_defect,
    ingest_road_test_defects,
    resend_corrected_results,
)

CARS = [
    Car("2024-0000001"),
    Car("2024-0000002", fails_road_test=True),
    Car("2024-0000003", broken_chain=True),
    Car("2024-0000004", reaches_road_test=False),
]
RUN_LOG_TABLES = ("etl_run", "dq_check")


@pytest.fixture
def etl_lake(tmp_path: Path) -> Lake:
    """An empty lake on a local folder."""
    return Lake(str(tmp_path / "lake"))


def snapshot(
    warehouse: Warehouse, skip: tuple[str, ...] = RUN_LOG_TABLES
) -> dict[str, pl.DataFrame]:
    """Every table's content except the run log, which grows with every run by design.

    The packed event copies (PostgreSQL) are compared by the events the API reads
    through them: their bytes depend on the batch a vehicle was packed in (see
    ``packed_events``), and DuckDB keeps none.
    """
    tables = {name: warehouse.read_table(name) for name in WAREHOUSE_TABLES if name not in skip}
    knrs = tables[MART_VEHICLE_EVENTS.name].get_column("knr").unique().to_list()
    with warehouse.transaction() as tx:
        tables[VEHICLE_EVENT_BATCHES.name] = tx.read_vehicle_events(knrs)
    return tables


def assert_same(before: Mapping[str, pl.DataFrame], after: Mapping[str, pl.DataFrame]) -> None:
    assert before.keys() == after.keys()
    for name in before:
        assert_frame_equal(after[name], before[name], check_exact=True)


def vehicle_rows(tables: Mapping[str, pl.DataFrame], knrs: list[str]) -> dict[str, pl.DataFrame]:
    """The rows of the vehicle-scoped tables that belong to ``knrs``."""
    return {
        spec.name: tables[spec.name].filter(pl.col("knr").is_in(knrs))
        for spec in TRANSFORM_TABLES
        if spec.vehicle_scoped
    }


def test_first_run_loads_every_vehicle_and_remembers_the_versions(
    etl_lake: Lake, warehouse: Warehouse
) -> None:
    ingest_day(etl_lake, CARS, "day1", day=1)

    summary = run_etl(etl_lake, warehouse)

    assert summary.outcome == "loaded", summary.message
    assert summary.vehicles_affected == 4
    assert summary.vehicles_labelled == 3
    assert summary.checks_failed == 0
    assert warehouse.read_table("dim_vehicle")["knr"].to_list() == [c.knr for c in CARS]
    labels = warehouse.read_labels()
    assert labels["knr"].to_list() == [c.knr for c in CARS if c.reaches_road_test]
    assert not labels["road_test_failed"].any()
    assert summary.rows_loaded["fact_test_result"] == 8  # the duplicated result collapses
    assert warehouse.read_etl_state() == {t.value: etl_lake.bronze_version(t) for t in SourceTable}
    runs = warehouse.read_table("etl_run")
    assert runs["outcome"].to_list() == ["loaded"]
    assert json.loads(runs["rows_loaded"][0]) == summary.rows_loaded
    checks = warehouse.read_table("dq_check", where={"run_id": [summary.run_id]})
    assert checks.height == len(summary.checks) > 10
    assert checks["passed"].all()


def test_a_second_run_with_nothing_new_changes_nothing(
    etl_lake: Lake, warehouse: Warehouse
) -> None:
    ingest_day(etl_lake, CARS, "day1", day=1)
    run_etl(etl_lake, warehouse)
    before = snapshot(warehouse)

    summary = run_etl(etl_lake, warehouse)

    assert summary.outcome == "nothing new"
    assert summary.vehicles_affected == 0
    assert_same(before, snapshot(warehouse))
    assert warehouse.read_table("etl_run")["outcome"].sort().to_list() == ["loaded", "nothing new"]


def test_late_falhas_rebuild_exactly_the_vehicles_they_mention(
    etl_lake: Lake, warehouse: Warehouse
) -> None:
    ingest_day(etl_lake, CARS, "day1", day=1)
    run_etl(etl_lake, warehouse)
    before = snapshot(warehouse)

    ingest_road_test_defects(etl_lake, CARS, "late-rod", day=3)
    summary = run_etl(etl_lake, warehouse)

    failing = [c.knr for c in CARS if c.fails_road_test]
    others = [c.knr for c in CARS if not c.fails_road_test]
    after = snapshot(warehouse)
    assert summary.outcome == "loaded", summary.message
    assert summary.vehicles_affected == len(failing)
    assert_same(vehicle_rows(before, others), vehicle_rows(after, others))
    label = after["vehicle_label"].filter(pl.col("knr").is_in(failing))
    assert label["road_test_failed"].to_list() == [True]
    assert label["failure_groups"].to_list() == ["9830946"]
    # the road-test defect is known only after the road test: the features must not see it
    assert_frame_equal(
        after["mart_vehicle_features"].filter(pl.col("knr").is_in(failing)),
        before["mart_vehicle_features"].filter(pl.col("knr").is_in(failing)),
    )


def test_a_late_line_defect_updates_that_vehicles_features(
    etl_lake: Lake, warehouse: Warehouse
) -> None:
    ingest_day(etl_lake, CARS, "day1", day=1)
    run_etl(etl_lake, warehouse)
    before = snapshot(warehouse)

    ingest_late_line_defect(etl_lake, CARS[0], "late-zp5", day=3)
    summary = run_etl(etl_lake, warehouse)

    after = snapshot(warehouse)
    target, others = [CARS[0].knr], [c.knr for c in CARS[1:]]
    assert summary.vehicles_affected == 1
    assert_same(vehicle_rows(before, others), vehicle_rows(after, others))
    old = before["mart_vehicle_features"].filter(pl.col("knr").is_in(target)).row(0, named=True)
    new = after["mart_vehicle_features"].filter(pl.col("knr").is_in(target)).row(0, named=True)
    assert (old["n_defects"], new["n_defects"]) == (1, 2)
    assert (old["n_defects_zone_zp5"], new["n_defects_zone_zp5"]) == (0, 1)


def test_rows_that_leave_bronze_leave_the_warehouse(etl_lake: Lake, warehouse: Warehouse) -> None:
    ingest_day(etl_lake, CARS, "day1", day=1)
    run_etl(etl_lake, warehouse)
    before = snapshot(warehouse)
    ingest_late_line_defect(etl_lake, CARS[0], "half-ingested", day=3)
    run_etl(etl_lake, warehouse)
    assert warehouse.read_table("fact_defect", where={"knr": [CARS[0].knr]}).height == 2

    etl_lake.discard_file_rows(file_hash("half-ingested"))
    summary = run_etl(etl_lake, warehouse)

    assert summary.vehicles_affected == 1
    after = snapshot(warehouse, skip=(*RUN_LOG_TABLES, "etl_state"))
    before.pop("etl_state")
    assert_same(before, after)


def test_a_resent_corrected_file_updates_the_values(etl_lake: Lake, warehouse: Warehouse) -> None:
    ingest_day(etl_lake, CARS, "day1", day=1)
    run_etl(etl_lake, warehouse)
    before = snapshot(warehouse)

    resend_corrected_results(etl_lake, CARS[2], 31.5, "day1-results-corrected", day=5)
    summary = run_etl(etl_lake, warehouse)

    after = snapshot(warehouse)
    target, others = [CARS[2].knr], [c.knr for i, c in enumerate(CARS) if i != 2]
    assert summary.outcome == "loaded", summary.message
    assert summary.vehicles_affected == 1
    assert_same(vehicle_rows(before, others), vehicle_rows(after, others))
    torque = pl.col("knr").is_in(target) & (pl.col("value_id") == "1")
    assert before["fact_test_result"].filter(torque)["value"].to_list() == [25.0]
    assert after["fact_test_result"].filter(torque)["value"].to_list() == [31.5]
    assert after["fact_test_result"].filter(pl.col("knr").is_in(target)).height == 2
    window = after["dim_test"].filter((pl.col("name") == "012001") & (pl.col("value_id") == "1"))
    assert window.select("ok_min", "ok_max").row(0) == (25.0, 31.5)


Damage = Callable[[pl.DataFrame], pl.DataFrame]


def _corrupt(name: str, damage: Damage) -> object:
    """A stand-in for run_transforms that damages one table of the real output."""
    real = jobs.run_transforms

    def damaged(*args: Any, **kwargs: Any) -> dict[str, pl.DataFrame]:
        tables = real(*args, **kwargs)
        if "tables" not in kwargs:
            tables[name] = damage(tables[name])
        return tables

    return damaged


def _repeat_first_row(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([frame, frame.head(1)])


def _unknown_test(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit("999999").alias("name"))


@pytest.mark.parametrize(
    ("table", "damage", "check"),
    [
        # caught before writing: a key repeated in the batch
        ("fact_defect", _repeat_first_row, "unique key fact_defect"),
        # caught after writing, inside the transaction: a result of an unknown test
        ("fact_test_result", _unknown_test, "reference fact_test_result → dim_test"),
    ],
)
def test_a_failed_hard_check_leaves_the_warehouse_as_it_was(
    etl_lake: Lake,
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    table: str,
    damage: Damage,
    check: str,
) -> None:
    ingest_day(etl_lake, CARS[:2], "day1", day=1)
    run_etl(etl_lake, warehouse)
    before = snapshot(warehouse)
    ingest_day(etl_lake, CARS[2:], "day2", day=2)
    ingest_road_test_defects(etl_lake, CARS, "rod", day=2)
    monkeypatch.setattr(jobs, "run_transforms", _corrupt(table, damage))

    summary = run_etl(etl_lake, warehouse)

    assert summary.outcome == "failed"
    assert not summary.ok
    assert check in summary.message
    assert "warehouse is unchanged" in summary.message
    assert_same(before, snapshot(warehouse))
    runs = warehouse.read_table("etl_run", where={"run_id": [summary.run_id]})
    assert runs["outcome"].to_list() == ["failed"]
    assert runs["message"].to_list() == [summary.message]
    stored = warehouse.read_table("dq_check", where={"run_id": [summary.run_id]})
    assert stored.height == len(summary.checks)
    assert check in stored.filter(~pl.col("passed"))["check_name"].to_list()


@pytest.mark.postgres
def test_both_backends_end_with_equal_tables(
    etl_lake: Lake, tmp_path: Path, postgres_url: str
) -> None:
    ingest_day(etl_lake, CARS, "day1", day=1)
    ingest_road_test_defects(etl_lake, CARS, "rod", day=2)
    contents = []
    for url in (f"duckdb:///{tmp_path / 'w.duckdb'}", postgres_url):
        warehouse = connect(url)
        try:
            assert run_etl(etl_lake, warehouse).outcome == "loaded"
            contents.append(
                snapshot(warehouse, skip=(*RUN_LOG_TABLES, "etl_state", "schema_migrations"))
            )
        finally:
            warehouse.dispose()
    assert_same(contents[0], contents[1])


def test_an_unknown_engine_is_refused_before_anything_runs(
    etl_lake: Lake, warehouse: Warehouse
) -> None:
    with pytest.raises(ValueError, match="choose one of polars, duckdb, spark"):
        run_etl(etl_lake, warehouse, engine="pandas")  # type: ignore[arg-type]
    assert warehouse.count_rows("etl_run") == 0
