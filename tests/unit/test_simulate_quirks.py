"""The simulated exports carry the known defects of the partner's real exports."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import polars as pl

from roadtest.contracts.partner import (
    POST_ROAD_TEST_HALLES,
    PRE_ROAD_TEST_HALLES,
    S_GROUPS,
    ZONE_CHAIN,
    SourceTable,
)
from roadtest.simulate import SimulatedPlant

CHAIN_CODES = [code for code, _ in ZONE_CHAIN]
PRE_ROAD_CHAIN = CHAIN_CODES[: CHAIN_CODES.index("M710")]


def chain_passages(plant: SimulatedPlant) -> pl.DataFrame:
    """KNR, STATUS (trimmed) and DATA of main-chain passages."""
    return (
        plant.status.with_columns(pl.col("STATUS").str.strip_chars())
        .filter(pl.col("STATUS").is_in(CHAIN_CODES))
        .unique()
    )


def reworks(plant: SimulatedPlant) -> pl.DataFrame:
    """Per NOK (KNR, NAME): when it was NOK, when it was retested OK, and the next passage.

    ``late`` marks a retest after the first main-chain passage that followed
    the NOK: the car had left the zone when it was reworked.
    """
    results = plant.resultados.filter(~pl.col("NAME").str.starts_with("SECTION_ZP8"))
    nok = (
        results.filter(pl.col("STATUS") == 13)
        .group_by("KNR", "NAME")
        .agg(pl.col("DATA").min().alias("nok"))
    )
    retest = (
        results.filter(pl.col("STATUS") == 10)
        .join(nok, on=["KNR", "NAME"])
        .filter(pl.col("DATA") > pl.col("nok"))
        .group_by("KNR", "NAME")
        .agg(pl.col("DATA").min().alias("retest"))
    )
    following = (
        nok.join(chain_passages(plant), on="KNR")
        .filter(pl.col("DATA") > pl.col("nok"))
        .group_by("KNR", "NAME")
        .agg(pl.col("DATA").min().alias("next_passage"))
    )
    return (
        nok.join(retest, on=["KNR", "NAME"])
        .join(following, on=["KNR", "NAME"])
        .with_columns(late=pl.col("retest") > pl.col("next_passage"))
    )


def test_every_table_has_duplicated_rows(small_plant: SimulatedPlant) -> None:
    for frame in small_plant.tables().values():
        assert frame.is_duplicated().any()


def test_duplicates_are_a_small_share(medium_plant: SimulatedPlant) -> None:
    results = medium_plant.tables()[SourceTable.RESULTADOS]
    share = 1.0 - results.unique().height / results.height
    assert 0.001 <= share <= 0.01


def test_about_a_fifth_of_vehicles_miss_part_of_the_chain(medium_plant: SimulatedPlant) -> None:
    seen = (
        chain_passages(medium_plant)
        .filter(pl.col("STATUS").is_in(PRE_ROAD_CHAIN))
        .group_by("KNR")
        .agg(pl.col("STATUS").n_unique().alias("codes"))
    )
    complete = seen.filter(pl.col("codes") == len(PRE_ROAD_CHAIN)).height
    assert 0.15 <= 1.0 - complete / medium_plant.truth.height <= 0.25


def test_some_gaps_between_zones_are_negative(small_plant: SimulatedPlant) -> None:
    first = (
        chain_passages(small_plant)
        .filter(pl.col("STATUS").is_in(PRE_ROAD_CHAIN))
        .group_by("KNR", "STATUS")
        .agg(pl.col("DATA").min())
        .pivot("STATUS", index="KNR", values="DATA")
    )
    negative = sum(
        first.filter(pl.col(later) < pl.col(earlier)).height
        for earlier, later in pairwise(PRE_ROAD_CHAIN)
    )
    assert negative > 0


def test_values_carry_stray_spaces_and_mixed_case(small_plant: SimulatedPlant) -> None:
    falhas = small_plant.falhas
    assert falhas["HALLE"].str.ends_with(" ").any()
    assert small_plant.status["STATUS"].str.ends_with(" ").any()
    assert (falhas["FALHA"] != falhas["FALHA"].str.to_uppercase()).any()
    assert set(falhas["HALLE"].str.strip_chars()) <= set(PRE_ROAD_TEST_HALLES) | set(
        POST_ROAD_TEST_HALLES
    )


def test_junk_failure_groups_occur(small_plant: SimulatedPlant) -> None:
    groups = small_plant.falhas["S_GROUP_ID"]
    assert {"#MULTIVALUE", "-2"} <= set(groups.drop_nulls())
    valid = {str(g) for g in S_GROUPS}
    assert groups.drop_nulls().is_in([*valid, "#MULTIVALUE", "-2"]).all()


def test_results_are_posted_in_batches(small_plant: SimulatedPlant) -> None:
    results = small_plant.resultados
    vehicles_per_stamp = results.group_by("DATA").agg(pl.col("KNR").n_unique().alias("n"))
    shared = results.join(vehicles_per_stamp, on="DATA").filter(pl.col("n") > 1).height
    assert shared / results.height > 0.5


def test_the_exports_have_realistic_variety(medium_plant: SimulatedPlant) -> None:
    falhas = medium_plant.falhas
    assert medium_plant.status["STATUS"].str.strip_chars().n_unique() > 100
    assert falhas["FALHA"].str.to_uppercase().str.strip_chars().n_unique() > 1000
    assert 40 <= falhas["ESTACAO"].n_unique() <= 80
    assert falhas["USUARIO"].n_unique() > 100
    assert falhas["COR"].n_unique() == 11
    top_model = falhas.select("KNR", "MODELO").unique()["MODELO"].value_counts(sort=True)
    assert top_model["count"][0] / top_model["count"].sum() > 0.7


def test_line_stops_and_nights_leave_vehicles_overnight(small_plant: SimulatedPlant) -> None:
    passages = chain_passages(small_plant).sort("KNR", "DATA")
    gaps = passages.with_columns(gap=pl.col("DATA").diff().over("KNR")).drop_nulls("gap")
    assert (gaps["gap"] > timedelta(hours=8)).any()
    assert small_plant.status["DATA"].dt.weekday().max() <= 5


def test_some_reworks_happen_after_the_vehicle_left_the_zone(small_plant: SimulatedPlant) -> None:
    found = reworks(small_plant)
    assert found["late"].any()
    assert (~found["late"]).any()


def test_rework_order_matters_more_than_rework_count(medium_plant: SimulatedPlant) -> None:
    per_vehicle = reworks(medium_plant).group_by("KNR").agg(pl.col("late").any())
    rates = (
        medium_plant.truth.filter("reaches_road_test")
        .join(per_vehicle, on="KNR")
        .group_by("late")
        .agg(pl.col("failed").mean())
    )
    rate = dict(rates.iter_rows())
    assert rate[True] > 3.0 * rate[False]


def test_section_zp8_results_only_after_the_road_test_start(small_plant: SimulatedPlant) -> None:
    section = small_plant.resultados.filter(pl.col("NAME").str.starts_with("SECTION_ZP8"))
    assert section.height > 0
    joined = section.join(small_plant.truth, on="KNR", how="left")
    assert joined["reaches_road_test"].all()
    assert (joined["DATA"] > joined["road_test_start"]).all()


def test_after_road_test_defects_give_the_outcome_away(medium_plant: SimulatedPlant) -> None:
    after = medium_plant.falhas.filter(
        pl.col("HALLE").str.strip_chars().is_in(["AGUA", "ZP8", "ZP82", "ZP8R"])
    )
    truth = medium_plant.truth.filter("reaches_road_test").with_columns(
        water=pl.col("KNR").is_in(
            after.filter(pl.col("HALLE").str.starts_with("AGUA"))["KNR"].implode()
        ),
        zp8r=pl.col("KNR").is_in(
            after.filter(pl.col("HALLE").str.starts_with("ZP8R"))["KNR"].implode()
        ),
    )
    rates = dict(
        truth.group_by("failed").agg(pl.col("water").mean() + pl.col("zp8r").mean()).iter_rows()
    )
    assert rates[True] > 5.0 * rates[False]
    assert after.join(medium_plant.truth, on="KNR")["reaches_road_test"].all()
