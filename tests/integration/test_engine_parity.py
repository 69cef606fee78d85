"""The same transforms on Polars, DuckDB and PySpark give the same warehouse tables.

Input: part of a simulated plant (through the lake's validation) plus the
hand-built edge cases of the unit tests (duplicates, re-sent corrections,
negative gaps, DATA ties, vehicles not yet at the road test). Every table must
be equal, sorted by primary key, floats within 1e-9.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roadtest.contracts.partner import SourceTable
from roadtest.contracts.warehouse import TRANSFORM_TABLES
from roadtest.etl.engines import read_bronze_spark, run_transforms
from roadtest.lake import Lake
from roadtest.simulate import SimulatedPlant
from tests.unit.test_marts import hand_plant
from tests.unit.test_transforms import INGESTED, BronzeBuilder, at, bronze_from_exports

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import SparkSession

PLANT_VEHICLES = 60


def edge_cases() -> BronzeBuilder:
    """Duplicates, corrections, a negative gap and DATA ties on top of the marts' plant."""
    b = hand_plant().file("fix.xlsx", INGESTED + timedelta(days=2))
    knr = "2024-0000003"
    b.line(knr, 0, ("R750", "L540", "G700", "M600", "M710"))
    b.rows[SourceTable.STATUS][-4]["DATA"] = at(-20)  # L540 before R750: negative gap
    b.passage(knr, "R750", at(0)).passage(knr, "R750", at(0), file="fix.xlsx")
    for i in range(4):  # one batch: four results with the same DATA
        b.result(knr, f"01200{i}", at(30), value_id=str(i), value=float(i))
    b.result(knr, "012001", at(30), value_id="1", value=7.0, status=13, file="fix.xlsx")
    b.defect(knr, "ZP6", "PORTA. RISCO", at(30), s_group_id=None)
    b.defect(knr, "ZP6", "PORTA. RISCO", at(30), s_group_id=4, file="fix.xlsx")
    b.defect(knr, "ROD", "FAROL. VIBRACAO", at(300), s_group_id=9830946)
    return b


@pytest.fixture(scope="module")
def parity_bronze(small_plant: SimulatedPlant) -> dict[SourceTable, pl.DataFrame]:
    knrs = small_plant.truth["KNR"].sort().head(PLANT_VEHICLES).to_list()
    exports = {t: f.filter(pl.col("KNR").is_in(knrs)) for t, f in small_plant.tables().items()}
    plant = bronze_from_exports(exports)
    extra = edge_cases().frames()
    return {t: pl.concat([plant[t], extra[t]]) for t in SourceTable}


@pytest.fixture(scope="module")
def polars_tables(parity_bronze: dict[SourceTable, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    tables = run_transforms(parity_bronze, engine="polars")
    assert tables["vehicle_label"]["road_test_failed"].any()
    assert tables["fact_zone_passage"]["is_negative_gap"].any()
    return tables


def assert_same_tables(left: dict[str, pl.DataFrame], right: dict[str, pl.DataFrame]) -> None:
    assert list(left) == list(right) == [spec.name for spec in TRANSFORM_TABLES]
    for name, frame in left.items():
        assert not frame.is_empty(), name
        try:
            assert_frame_equal(right[name], frame, check_exact=False, rel_tol=0, abs_tol=1e-9)
        except AssertionError as difference:
            raise AssertionError(f"table {name} differs: {difference}") from None


def test_duckdb_matches_polars(
    parity_bronze: dict[SourceTable, pl.DataFrame], polars_tables: dict[str, pl.DataFrame]
) -> None:
    assert_same_tables(polars_tables, run_transforms(parity_bronze, engine="duckdb"))


@pytest.mark.slow
@pytest.mark.spark
def test_spark_matches_polars(
    spark: SparkSession,
    parity_bronze: dict[SourceTable, pl.DataFrame],
    polars_tables: dict[str, pl.DataFrame],
) -> None:
    assert_same_tables(polars_tables, run_transforms(parity_bronze, engine="spark", spark=spark))


def test_spark_engine_needs_a_session(parity_bronze: dict[SourceTable, pl.DataFrame]) -> None:
    with pytest.raises(ValueError, match="needs a SparkSession"):
        run_transforms(parity_bronze, engine="spark")


@pytest.mark.slow
@pytest.mark.spark
def test_spark_reads_bronze_snapshots_from_the_lake(
    spark: SparkSession, tmp_path: Path, parity_bronze: dict[SourceTable, pl.DataFrame]
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    status = parity_bronze[SourceTable.STATUS]
    first = lake.append_bronze(SourceTable.STATUS, status.head(100))
    lake.append_bronze(SourceTable.STATUS, status.slice(100))
    for version, expected in ((first, status.head(100)), (None, status)):
        frame = read_bronze_spark(spark, lake, SourceTable.STATUS, version)
        read = pl.from_arrow(frame.toArrow())
        assert isinstance(read, pl.DataFrame)
        assert read.schema == expected.schema
        assert_frame_equal(
            read.sort("_file_hash", "_row_number"), expected.sort("_file_hash", "_row_number")
        )
    missing = read_bronze_spark(spark, lake, SourceTable.FALHAS)
    assert missing.count() == 0


def test_spark_refuses_a_lake_on_s3() -> None:
    lake = Lake("s3://bucket/lake")
    with pytest.raises(ValueError, match="only a lake on a local folder"):
        read_bronze_spark(None, lake, SourceTable.STATUS)  # type: ignore[arg-type]
