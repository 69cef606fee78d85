"""Data-quality checks: clean transformed data passes, each kind of damage is caught and named.

The baseline is the real transforms' output for a few hand-made vehicles, so the
checks are exercised on the exact shape of the warehouse tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
import pytest

from roadtest.contracts.partner import SourceTable
from roadtest.etl.engines import run_transforms
from roadtest.etl.quality import (
    MAX_BROKEN_CHAIN_SHARE,
    CheckResult,
    check_counts_reconcile,
    check_labels,
    check_load,
    check_references,
    check_unique_keys,
    check_value_ranges,
    check_zone_chains,
    hard_failures,
)
from tests.integration.test_etl_job_support import Car, defects_file, results_file, status_file

CARS = [
    Car("2024-0000001"),
    Car("2024-0000002", fails_road_test=True),
    Car("2024-0000003", broken_chain=True),
    Car("2024-0000004", reaches_road_test=False),
    *(Car(f"2024-000000{i}") for i in range(5, 9)),
]
INGESTED = datetime(2024, 4, 1, tzinfo=UTC)

Tables = dict[str, pl.DataFrame]
Bronze = dict[SourceTable, pl.DataFrame]


@pytest.fixture(scope="module")
def bronze() -> Bronze:
    """Bronze exports of the eight cars, road-test defects included."""
    return {
        SourceTable.STATUS: status_file(CARS, "status", INGESTED),
        SourceTable.RESULTADOS: results_file(CARS, "results", INGESTED),
        SourceTable.FALHAS: pl.concat(
            [
                defects_file(CARS, "falhas", INGESTED, road_test=False),
                defects_file(CARS, "rod", INGESTED, road_test=True),
            ]
        ),
    }


@pytest.fixture(scope="module")
def tables(bronze: Bronze) -> Tables:
    """The warehouse tables the transforms build from them."""
    return run_transforms(bronze)


def dimension_keys(tables: Tables) -> Tables:
    """Dimension keys as the warehouse would hold them after loading ``tables``."""
    return {name: frame for name, frame in tables.items() if name.startswith("dim_")}


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def test_clean_data_passes_every_check(tables: Tables, bronze: Bronze) -> None:
    results = [*check_load(tables, bronze), *check_references(tables, dimension_keys(tables))]

    assert [r.name for r in results if not r.passed] == []
    names = {r.name for r in results}
    assert {"unique key fact_test_result", "reference fact_test_result → dim_test"} <= names
    assert {"counts reconcile RESULTADOS", "broken zone chain share", "labelled share"} <= names


def test_a_repeated_key_fails_the_hard_uniqueness_check(tables: Tables) -> None:
    damaged = {
        **tables,
        "fact_defect": pl.concat([tables["fact_defect"], tables["fact_defect"].head(1)]),
    }

    result = by_name(check_unique_keys(damaged))["unique key fact_defect"]

    assert (result.passed, result.severity, result.observed) == (False, "hard", 1)
    assert tables["fact_defect"]["knr"][0] in result.message


@pytest.mark.parametrize(
    ("table", "damage", "check"),
    [
        (
            "dim_test",
            lambda f: f.filter(pl.col("value_id") != "2"),
            "reference fact_test_result → dim_test",
        ),
        ("dim_date", lambda f: f.head(0), "reference fact_zone_passage → dim_date"),
        ("dim_vehicle", lambda f: f.slice(1), "reference vehicle_label → dim_vehicle"),
        (
            "dim_zone",
            lambda f: f.filter(pl.col("status_code") != "M600"),
            "reference fact_zone_passage → dim_zone",
        ),
    ],
)
def test_a_missing_dimension_row_fails_referential_integrity(
    tables: Tables, table: str, damage: Callable[[pl.DataFrame], pl.DataFrame], check: str
) -> None:
    dims = dimension_keys(tables)
    dims[table] = damage(dims[table])

    results = by_name(check_references(tables, dims))

    assert not results[check].passed
    assert (results[check].observed or 0) >= 1
    assert all(r.passed for name, r in results.items() if table not in name)


@pytest.mark.parametrize(
    ("table", "change", "check"),
    [
        ("fact_test_result", pl.lit(11, pl.Int64).alias("status"), "range result status"),
        ("fact_test_result", (~pl.col("is_nok")).alias("is_nok"), "range result status"),
        ("mart_vehicle_features", pl.lit(1.5).alias("nok_rate"), "range feature rates"),
        ("mart_vehicle_features", pl.lit(0.7).alias("min_margin_bolting"), "range feature margins"),
        ("mart_vehicle_features", pl.lit(-3.0).alias("dwell_zp5_s"), "range feature durations"),
        ("dim_vehicle", pl.lit(-1, pl.Int64).alias("n_defects"), "range counts"),
    ],
)
def test_values_outside_their_domain_fail_a_hard_range_check(
    tables: Tables, table: str, change: pl.Expr, check: str
) -> None:
    damaged = {**tables, table: tables[table].with_columns(change)}

    results = by_name(check_value_ranges(damaged))

    assert not results[check].passed
    assert results[check].severity == "hard"
    assert [r.name for r in check_value_ranges(tables) if not r.passed] == []


def test_too_many_broken_chains_fail_softly(tables: Tables) -> None:
    broken = tables["dim_vehicle"].with_columns(pl.lit(False).alias("has_complete_chain"))
    results = check_zone_chains({**tables, "dim_vehicle": broken})

    chain = by_name(results)["broken zone chain share"]
    assert (chain.passed, chain.severity, chain.observed) == (False, "soft", 1.0)
    assert chain.threshold == MAX_BROKEN_CHAIN_SHARE
    assert hard_failures(results) == []
    original = by_name(check_zone_chains(tables))["broken zone chain share"]
    assert original.observed == pytest.approx(1 / 7)


def test_labels_must_match_arrival_at_the_road_test(tables: Tables) -> None:
    ok = by_name(check_labels(tables))
    assert ok["labelled share"].passed
    assert ok["labelled share"].observed == pytest.approx(7 / 8)
    assert ok["road-test failure rate"].observed == pytest.approx(1 / 7)

    missing = {**tables, "vehicle_label": tables["vehicle_label"].slice(1)}
    result = by_name(check_labels(missing))["labelled share"]
    assert not result.passed
    assert "1 reached the road test without a label" in result.message


def test_counts_reconcile_bronze_rows_with_fact_rows(tables: Tables, bronze: Bronze) -> None:
    ok = by_name(check_counts_reconcile(tables, bronze))
    assert all(r.passed for r in ok.values())
    assert (
        "24 bronze row(s) → 16 fact_test_result row(s) + 8 duplicate(s)"
        in ok["counts reconcile RESULTADOS"].message
    )

    lost = {**tables, "fact_zone_passage": tables["fact_zone_passage"].slice(1)}
    result = by_name(check_counts_reconcile(lost, bronze))["counts reconcile STATUS"]
    assert (result.passed, result.observed) == (False, 1)
    vehicles = {**tables, "dim_vehicle": tables["dim_vehicle"].slice(1)}
    assert not by_name(check_counts_reconcile(vehicles, bronze))["counts reconcile vehicles"].passed
