"""The plant simulator: configuration, determinism, export form, truth and mechanisms."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from roadtest.contracts.partner import (
    KNR_PATTERN,
    PARTNER_COLUMNS,
    POST_ROAD_TEST_NAME_PREFIX,
    RESULT_ID_GROUPS,
    RESULT_STATUSES,
    S_GROUPS,
    STATUS_CODE_PATTERN,
    UNITS,
    SourceTable,
)
from roadtest.simulate import PlantConfig, SimulatedPlant, simulate_plant
from roadtest.simulate.layout import build_layout
from roadtest.simulate.mechanisms import MECHANISMS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
TINY = PlantConfig(vehicles=120, seed=3)


def roc_auc(score: pl.Series, label: pl.Series) -> float:
    """Rank-sum (Mann-Whitney) ROC-AUC, ties averaged."""
    ranks = score.rank("average").to_numpy()
    positive = label.to_numpy().astype(bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def trimmed_falhas(plant: SimulatedPlant) -> pl.DataFrame:
    """FALHAS with HALLE trimmed, as the target definition reads it."""
    return plant.falhas.with_columns(pl.col("HALLE").str.strip_chars())


def rod_knrs(plant: SimulatedPlant) -> pl.Series:
    """KNRs with at least one road-test defect."""
    return trimmed_falhas(plant).filter(pl.col("HALLE") == "ROD")["KNR"].unique()


def labelled(plant: SimulatedPlant) -> pl.DataFrame:
    """Truth rows of vehicles whose road test is over."""
    return plant.truth.filter("reaches_road_test")


# --- configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vehicles": 0}, "vehicles must be at least 10"),
        ({"rows_per_vehicle": 10}, "rows_per_vehicle must be at least"),
        ({"pending_share": 0.9}, "pending_share must be between"),
        ({"shifts_per_day": 4}, "shifts_per_day must be 1, 2 or 3"),
        ({"seed": -1}, "seed must be 0 or a positive integer"),
        ({"vehicles": 100_000, "production_days": 1}, "raise production_days"),
    ],
)
def test_config_rejects_bad_values_with_what_to_change(
    overrides: dict[str, int | float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PlantConfig(**overrides)  # type: ignore[arg-type]


def test_config_reports_every_problem_at_once() -> None:
    with pytest.raises(ValueError, match=r"vehicles must .*; .*drift_at must"):
        PlantConfig(vehicles=1, drift_at=2.0)


# --- determinism -------------------------------------------------------------


def test_same_seed_gives_the_same_plant() -> None:
    first, second = simulate_plant(TINY), simulate_plant(TINY)
    for table in SourceTable:
        assert first.tables()[table].equals(second.tables()[table])
    assert first.truth.equals(second.truth)
    assert first.export_time == second.export_time


def test_another_seed_gives_another_plant() -> None:
    first = simulate_plant(TINY)
    other = simulate_plant(PlantConfig(vehicles=TINY.vehicles, seed=TINY.seed + 1))
    for table in SourceTable:
        assert not first.tables()[table].equals(other.tables()[table])
    assert not first.truth["p_fail"].equals(other.truth["p_fail"])


# --- export form ---------------------------------------------------------------


def test_frames_have_partner_columns_and_export_types(small_plant: SimulatedPlant) -> None:
    for table, frame in small_plant.tables().items():
        assert frame.columns == list(PARTNER_COLUMNS[table])
        assert frame.schema["DATA"] == pl.Datetime("us")
        assert frame.schema["KNR"] == pl.String
    assert small_plant.resultados.schema["ID"] == pl.Int64
    assert small_plant.resultados.schema["STATUS"] == pl.Int64
    assert small_plant.falhas.schema["S_GROUP_ID"] == pl.String


def test_values_look_like_the_partner_exports(small_plant: SimulatedPlant) -> None:
    results = small_plant.resultados
    assert results["KNR"].str.contains(KNR_PATTERN.pattern).all()
    names = results["NAME"]
    assert (
        names.str.contains(r"^\d{6}$") | names.str.starts_with(POST_ROAD_TEST_NAME_PREFIX)
    ).all()
    assert set(results["ID"].unique()) == set(RESULT_ID_GROUPS)
    assert set(results["STATUS"].unique()) == RESULT_STATUSES
    assert set(results["UNIT"].unique()) <= UNITS | {""}
    assert {"", "Nm", "Deg", "V"} <= set(results["UNIT"].unique())
    values = results.filter(pl.col("VALUE") != "")["VALUE"]
    assert values.cast(pl.Float64, strict=False).null_count() == 0
    assert values.str.contains(",").sum() == 0
    codes = small_plant.status["STATUS"].str.strip_chars()
    assert codes.str.contains(STATUS_CODE_PATTERN.pattern).all()


def spec_windows(config: PlantConfig) -> pl.DataFrame:
    """NAME, VALUE_ID and the spec window of every numeric sub-result of the plant's layout."""
    programs = build_layout(config.rows_per_vehicle).programs
    return pl.DataFrame(
        {
            "NAME": pl.Series(programs.names).gather(programs.sub_program),
            "VALUE_ID": programs.sub_value_id,
            "low": programs.sub_lo,
            "high": programs.sub_hi,
        }
    ).filter(~pl.Series(programs.sub_functional))


def test_status_agrees_with_the_spec_window(small_plant: SimulatedPlant) -> None:
    numeric = (
        small_plant.resultados.filter(pl.col("VALUE") != "")
        .with_columns(pl.col("VALUE").cast(pl.Float64))
        .join(spec_windows(small_plant.config), on=["NAME", "VALUE_ID"])
    )
    inside = numeric["VALUE"].is_between(numeric["low"], numeric["high"])
    assert numeric.height == small_plant.resultados.filter(pl.col("VALUE") != "").height
    assert (inside == (numeric["STATUS"] == 10)).all()
    assert (numeric["STATUS"] == 13).sum() > 0


def test_rows_per_vehicle_follow_the_target(small_plant: SimulatedPlant) -> None:
    per_vehicle = small_plant.resultados.group_by("KNR").len()["len"]
    assert 180 <= per_vehicle.mean() <= 230
    assert per_vehicle.quantile(0.1) < 170 and per_vehicle.quantile(0.9) > 240
    dense = simulate_plant(PlantConfig(vehicles=60, seed=1, rows_per_vehicle=500))
    assert 450 <= dense.resultados.group_by("KNR").len()["len"].mean() <= 550


def test_no_exported_row_is_after_the_export_time(small_plant: SimulatedPlant) -> None:
    for frame in small_plant.tables().values():
        assert frame["DATA"].max() <= small_plant.export_time
    assert small_plant.truth["road_test_start"].max() <= small_plant.export_time


def test_a_weekend_start_begins_on_monday() -> None:
    plant = simulate_plant(PlantConfig(vehicles=50, seed=1, start=date(2024, 1, 6)))
    first = plant.status["DATA"].min()
    assert first is not None and first.date() >= date(2024, 1, 8)


# --- truth ---------------------------------------------------------------------


def test_truth_has_one_row_per_exported_vehicle(small_plant: SimulatedPlant) -> None:
    truth = small_plant.truth
    assert truth["KNR"].is_unique().all()
    assert truth.height == small_plant.config.vehicles
    assert set(truth["KNR"]) == set(small_plant.resultados["KNR"])
    assert truth.schema["groups"] == pl.List(pl.Int64)
    assert truth.schema["mechanisms"] == pl.List(pl.String)
    assert truth["p_fail"].is_between(0.0, 1.0, closed="none").all()


def test_recorded_failure_is_exactly_a_rod_defect(small_plant: SimulatedPlant) -> None:
    truth = small_plant.truth.with_columns(rod=pl.col("KNR").is_in(rod_knrs(small_plant).implode()))
    assert truth["rod"].sum() > 0
    assert truth["rod"].equals(truth["failed"], check_names=False)
    failed = truth.filter("failed")
    assert failed["failed_truly"].all() and failed["reaches_road_test"].all()


def test_truly_failing_vehicles_have_causes_and_groups(small_plant: SimulatedPlant) -> None:
    truth = small_plant.truth.with_columns(
        n_mech=pl.col("mechanisms").list.len(), n_groups=pl.col("groups").list.len()
    )
    failing = truth.filter("failed_truly")
    assert (failing["n_mech"] >= 1).all() and (failing["n_groups"] >= 1).all()
    passing = truth.filter(~pl.col("failed_truly"))
    assert (passing["n_mech"] == 0).all() and (passing["n_groups"] == 0).all()
    assert set(truth["groups"].explode().drop_nulls()) <= set(S_GROUPS)
    assert set(truth["mechanisms"].explode().drop_nulls()) <= set(MECHANISMS)


def test_rod_groups_are_true_groups(small_plant: SimulatedPlant) -> None:
    rod = (
        trimmed_falhas(small_plant)
        .filter(pl.col("HALLE") == "ROD")
        .with_columns(group=pl.col("S_GROUP_ID").cast(pl.Int64, strict=False))
        .filter(pl.col("group").is_in(list(S_GROUPS)))
        .join(small_plant.truth.select("KNR", "groups"), on="KNR")
    )
    assert rod.height > 0
    assert rod.select(pl.col("groups").list.contains(pl.col("group"))).to_series().all()


def test_road_test_start_is_the_m710_passage(small_plant: SimulatedPlant) -> None:
    m710 = (
        small_plant.status.filter(pl.col("STATUS").str.strip_chars() == "M710")
        .group_by("KNR")
        .agg(pl.col("DATA").min().alias("m710"))
    )
    joined = small_plant.truth.join(m710, on="KNR", how="left")
    reached = joined.filter("reaches_road_test")
    assert reached["m710"].equals(reached["road_test_start"], check_names=False)
    pending = joined.filter(~pl.col("reaches_road_test"))
    assert pending["m710"].null_count() == pending.height
    assert pending["road_test_start"].null_count() == pending.height


def test_unlabelled_tail_is_the_newest_vehicles_without_a_road_test(
    medium_plant: SimulatedPlant,
) -> None:
    truth = medium_plant.truth
    pending = truth.filter(~pl.col("reaches_road_test"))
    assert 0.005 <= pending.height / truth.height <= 0.05
    assert not pending["failed"].any()
    assert pending["failed_truly"].any()
    first_seen = medium_plant.resultados.group_by("KNR").agg(pl.col("DATA").min().alias("first"))
    seen = truth.join(first_seen, on="KNR")
    cut = seen.filter("reaches_road_test")["first"].quantile(0.9)
    assert (seen.filter(~pl.col("reaches_road_test"))["first"] >= cut).all()
    rod = rod_knrs(medium_plant)
    assert not pending["KNR"].is_in(rod.implode()).any()


def test_failure_rate_is_five_to_seven_percent(medium_plant: SimulatedPlant) -> None:
    rate = labelled(medium_plant)["failed"].mean()
    assert isinstance(rate, float) and 0.05 <= rate <= 0.07


def test_oracle_is_better_than_chance_but_not_perfect(medium_plant: SimulatedPlant) -> None:
    truth = labelled(medium_plant)
    assert 0.75 <= roc_auc(truth["p_fail"], truth["failed"]) <= 0.9


def test_inspectors_miss_some_true_failures(medium_plant: SimulatedPlant) -> None:
    truth = labelled(medium_plant).filter("failed_truly")
    missed = 1.0 - truth["failed"].mean()  # type: ignore[operator]
    assert 0.03 <= missed <= 0.2


# --- mechanisms ----------------------------------------------------------------


def failure_rate(truth: pl.DataFrame, condition: pl.Expr) -> tuple[float, float]:
    """Recorded failure rate of labelled vehicles with and without ``condition``."""
    rates = (
        truth.filter("reaches_road_test")
        .group_by(condition.alias("c"))
        .agg(pl.col("failed").mean())
    )
    by_condition = dict(zip(rates["c"], rates["failed"], strict=True))
    return by_condition[True], by_condition[False]


def test_configuration_sets_base_rates(medium_plant: SimulatedPlant) -> None:
    engines = (
        trimmed_falhas(medium_plant)
        .select("KNR", "MOTOR")
        .unique()
        .join(medium_plant.truth, on="KNR")
    )
    base = engines.filter(pl.col("risk_factors").list.len() == 0)
    mean_p = dict(base.group_by("MOTOR").agg(pl.col("p_fail").mean()).iter_rows())
    assert mean_p["DRP"] > 2.0 * mean_p["CWL"]


def test_groups_follow_the_mechanisms(medium_plant: SimulatedPlant) -> None:
    fired = medium_plant.truth.filter(pl.col("mechanisms").list.len() == 1).explode("mechanisms")
    voltage = fired.filter(pl.col("mechanisms") == "low_battery_voltage")
    assert voltage.height > 0
    assert voltage.select(pl.col("groups").list.contains(9830946)).to_series().all()
    torque = fired.filter(pl.col("mechanisms") == "torque_near_limit")
    assert torque.height > 0
    in_area = torque.select(pl.col("groups").list.set_intersection([1, 2, 5]).list.len() > 0)
    assert in_area.to_series().all()


def key_torque_edge(plant: SimulatedPlant) -> pl.DataFrame:
    """Per KNR, how close its closest OK key torque came to a limit (0 centre, 1 at the limit)."""
    return (
        plant.resultados.filter(
            pl.col("NAME").is_in(["012001", "012002", "013005"]),
            pl.col("UNIT") == "Nm",
            pl.col("STATUS") == 10,
        )
        .with_columns(pl.col("VALUE").cast(pl.Float64))
        .join(spec_windows(plant.config), on=["NAME", "VALUE_ID"])
        .group_by("KNR")
        .agg(
            (
                (pl.col("VALUE") - (pl.col("low") + pl.col("high")) / 2).abs()
                / ((pl.col("high") - pl.col("low")) / 2)
            )
            .max()
            .alias("edge")
        )
    )


def test_torque_near_a_limit_raises_the_failure_rate(medium_plant: SimulatedPlant) -> None:
    truth = medium_plant.truth.join(key_torque_edge(medium_plant), on="KNR")
    near, far = failure_rate(truth, pl.col("edge") > 0.8)
    assert near > 2.0 * far


def test_long_dwell_raises_the_failure_rate(medium_plant: SimulatedPlant) -> None:
    chain = (
        medium_plant.status.with_columns(pl.col("STATUS").str.strip_chars())
        .filter(pl.col("STATUS").is_in(["M600", "M700"]))
        .group_by("KNR")
        .agg(
            (
                pl.col("DATA").filter(pl.col("STATUS") == "M700").min()
                - pl.col("DATA").filter(pl.col("STATUS") == "M600").min()
            ).alias("dwell")
        )
    )
    truth = medium_plant.truth.join(chain.drop_nulls(), on="KNR")
    long_, short = failure_rate(truth, pl.col("dwell") > timedelta(hours=12))
    assert long_ > 2.0 * short


def test_battery_mechanism_changes_at_the_drift_date(medium_plant: SimulatedPlant) -> None:
    low = medium_plant.truth.filter(pl.col("risk_factors").list.contains("low_battery_voltage"))
    after, before = failure_rate(low, pl.col("road_test_start") > medium_plant.drift_date)
    assert after > 3.0 * before


def test_severe_earlier_defects_raise_the_failure_rate(medium_plant: SimulatedPlant) -> None:
    severe = "SOLTO|MAL FIXADO|FALTANTE|TRINCADO|NÃO FUNCIONA"
    line = trimmed_falhas(medium_plant).filter(
        pl.col("HALLE").is_in(["ZP5", "ZP5A", "ZP61", "ZP6", "ZP62", "CAB", "ZP7"]),
        pl.col("FALHA").str.to_uppercase().str.contains(severe),
    )
    truth = medium_plant.truth.with_columns(severe=pl.col("KNR").is_in(line["KNR"].implode()))
    with_severe, without = failure_rate(truth, pl.col("severe"))
    assert with_severe > 1.5 * without


def test_docs_describe_every_mechanism() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in MECHANISMS:
        assert f"`{name}`" in text


def test_p_fail_is_consistent_with_the_outcomes(medium_plant: SimulatedPlant) -> None:
    truth = medium_plant.truth
    expected = truth["p_fail"].mean()
    observed = truth["failed_truly"].mean()
    assert isinstance(expected, float) and isinstance(observed, float)
    assert abs(expected - observed) < 4 * np.sqrt(expected * (1 - expected) / truth.height)
