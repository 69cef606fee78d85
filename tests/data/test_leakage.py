"""Leakage: nothing recorded at or after a vehicle's road-test start may change its features.

A simulated plant goes through the transforms twice: as exported, and with a
late export that adds, for labelled vehicles, everything the road test and the
stations after it record (ROD/AGUA/ZP8 defects, SECTION_ZP8 results, M710 and
later passages, retests and passages dated after the start) and, for vehicles
still on the line, the post-road-test kinds of rows that can exist without the
road test having started. Both feature marts must come out identical.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roadtest.contracts.partner import POST_ROAD_TEST_HALLES, SourceTable
from roadtest.etl.engines import run_transforms
from roadtest.simulate import SimulatedPlant
from tests.unit.test_transforms import INGESTED, BronzeBuilder, bronze_from_exports

LATE = "late_export.xlsx"
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def plant_bronze(small_plant: SimulatedPlant) -> dict[SourceTable, pl.DataFrame]:
    return bronze_from_exports(small_plant.tables())


@pytest.fixture(scope="module")
def baseline(plant_bronze: dict[SourceTable, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return run_transforms(plant_bronze)


def add_after_start(b: BronzeBuilder, knr: str, start: datetime, name: str, value_id: str) -> None:
    """Everything the road test and later stations record, for a vehicle that reached it."""
    for i, halle in enumerate(sorted(POST_ROAD_TEST_HALLES)):
        b.defect(
            knr,
            halle,
            "PORTA DIANTEIRA. RUIDO",
            start + (5 + i) * MINUTE,
            s_group_id=4,
            cor="0000",
            file=LATE,
        )
    b.defect(knr, "ZP5", "CAPO. RISCO", start + 70 * MINUTE, s_group_id=5, file=LATE)
    b.result(knr, "SECTION_ZP8_TESTE", start + 90 * MINUTE, id_group=1, file=LATE)
    b.result(knr, "SECTION_ZP8_TESTE", start - 60 * MINUTE, id_group=1, file=LATE)
    b.result(knr, name, start, value_id=value_id, status=13, value=-1e6, file=LATE)
    b.result(knr, name, start + 10 * MINUTE, value_id=value_id, value=1e6, file=LATE)
    for i, code in enumerate(("M710", "M720", "M800", "R750", "M600")):
        b.passage(knr, code, start + (120 + i) * MINUTE, file=LATE)


def add_post_kinds(b: BronzeBuilder, knr: str, last: datetime) -> None:
    """Post-road-test kinds of rows that do not start the road test (no ROD, no M710)."""
    for halle in ("AGUA", "ZP8", "ZP82", "ZP8R"):
        b.defect(knr, halle, "PORTA. INFILTRACAO", last - 30 * MINUTE, s_group_id=4, file=LATE)
    b.result(knr, "SECTION_ZP8_TESTE", last - 20 * MINUTE, id_group=1, file=LATE)
    b.passage(knr, "M720", last - 10 * MINUTE, file=LATE)
    b.passage(knr, "M800", last - 5 * MINUTE, file=LATE)


@pytest.fixture(scope="module")
def perturbed(
    plant_bronze: dict[SourceTable, pl.DataFrame], baseline: dict[str, pl.DataFrame]
) -> tuple[dict[str, pl.DataFrame], list[str], list[str]]:
    b = BronzeBuilder().file(LATE, INGESTED + timedelta(days=30))
    labels = baseline["vehicle_label"].sample(40, seed=3).sort("knr")
    first_result = (
        baseline["fact_test_result"]
        .filter(pl.col("known_before_road_test"))
        .sort("knr", "data", "name", "value_id")
        .group_by("knr", maintain_order=True)
        .first()
    )
    chosen = labels.join(first_result, on="knr")
    for r in chosen.iter_rows(named=True):
        add_after_start(b, r["knr"], r["road_test_start_at"], r["name"], r["value_id"])
    unlabelled = baseline["mart_vehicle_features"].filter(~pl.col("labelled"))
    for r in unlabelled.iter_rows(named=True):
        add_post_kinds(b, r["knr"], r["as_of"])
    late = b.frames()
    bronze = {t: pl.concat([plant_bronze[t], late[t]]) for t in SourceTable}
    return run_transforms(bronze), chosen["knr"].to_list(), unlabelled["knr"].to_list()


def test_rows_after_the_road_test_start_change_no_feature(
    baseline: dict[str, pl.DataFrame],
    perturbed: tuple[dict[str, pl.DataFrame], list[str], list[str]],
) -> None:
    after, labelled, unlabelled = perturbed
    assert len(labelled) == 40 and unlabelled
    # The late rows did land: every perturbed vehicle now failed its road test ...
    failed = after["vehicle_label"].filter(pl.col("knr").is_in(labelled))
    assert failed["road_test_failed"].all()
    assert after["fact_defect"].height > baseline["fact_defect"].height
    # ... and yet no feature of any vehicle moved.
    for mart in ("mart_vehicle_features", "mart_vehicle_events"):
        assert_frame_equal(after[mart], baseline[mart])


def test_vehicles_that_have_not_reached_the_road_test_stay_unlabelled(
    small_plant: SimulatedPlant,
    baseline: dict[str, pl.DataFrame],
    perturbed: tuple[dict[str, pl.DataFrame], list[str], list[str]],
) -> None:
    after, _, unlabelled = perturbed
    on_line = small_plant.truth.filter(~pl.col("reaches_road_test"))["KNR"].sort().to_list()
    assert on_line and sorted(unlabelled) == on_line
    for tables in (baseline, after):
        assert not tables["vehicle_label"]["knr"].is_in(on_line).any()
        vehicles = tables["dim_vehicle"].filter(pl.col("knr").is_in(on_line))
        assert vehicles.height == len(on_line) and not vehicles["labelled"].any()


def test_labels_match_the_simulator_truth(
    small_plant: SimulatedPlant, baseline: dict[str, pl.DataFrame]
) -> None:
    truth = small_plant.truth.filter(pl.col("reaches_road_test")).select(
        knr="KNR",
        road_test_failed="failed",
        road_test_start_at="road_test_start",
        true_groups=pl.col("groups").cast(pl.List(pl.String)),
    )
    labels = baseline["vehicle_label"]
    assert_frame_equal(
        labels.select("knr", "road_test_failed", "road_test_start_at"),
        truth.drop("true_groups").sort("knr"),
    )
    # Recorded groups are among the vehicle's true ones (junk group ids are unknown).
    listed = labels.join(truth.select("knr", "true_groups"), on="knr").select(
        "road_test_failed",
        recorded=pl.col("failure_groups")
        .str.split(",")
        .list.eval(pl.element().filter(pl.element() != "")),
        true_groups="true_groups",
    )
    assert listed.filter(~pl.col("road_test_failed"))["recorded"].list.len().max() == 0
    failed = listed.filter(pl.col("road_test_failed"))
    assert failed.height > 10
    assert (
        failed.select(pl.col("recorded").list.set_difference("true_groups").list.len().max()).item()
        == 0
    )
