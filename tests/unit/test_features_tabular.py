"""The vehicle table: mart columns, configuration one-hot, margins to training windows."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from roadtest.features import CROSS_VEHICLE_COLUMNS, TabularConfig, build_tabular, fit_tabular_spec
from roadtest.features.tabular import MISSING_CATEGORY, UNKNOWN_CATEGORY
from roadtest.simulate import SimulatedPlant
from tests.unit.test_features_factories import events_frame, features_frame, ingest_like_files

TRAIN_VALUES = [10.0, 12.0, 15.0, 18.0, 20.0]
"""OK values of test 012001/1 on the training vehicle: window [10, 20]."""


@pytest.fixture(scope="module")
def warehouse(small_plant: SimulatedPlant) -> dict[str, pl.DataFrame]:
    return ingest_like_files(small_plant)


def training_events() -> pl.DataFrame:
    return events_frame(("2024-0000001", [{"value": v} for v in TRAIN_VALUES]))


def small_config() -> TabularConfig:
    return TabularConfig(min_ok_results=len(TRAIN_VALUES))


def table_of(events: pl.DataFrame, knrs: list[str]) -> dict[str, float]:
    """Built row of the first of ``knrs``, by feature name, with a spec fitted on training."""
    spec = fit_tabular_spec(features_frame("2024-0000001"), training_events(), small_config())
    built = build_tabular(features_frame(*knrs), events, spec)
    return dict(zip(built.feature_names, built.features[0].tolist(), strict=True))


def test_table_has_one_float32_row_per_vehicle_without_skewed_columns(
    warehouse: dict[str, pl.DataFrame],
) -> None:
    features = warehouse["mart_vehicle_features"]
    events = warehouse["mart_vehicle_events"]
    spec = fit_tabular_spec(features, events)
    built = build_tabular(features, events, spec)
    assert built.features.shape == (features.height, len(spec.feature_names))
    assert built.features.dtype == np.float32
    assert built.feature_names == spec.feature_names
    for never in ("labelled", "span_s", "as_of", "modelo", *CROSS_VEHICLE_COLUMNS):
        assert never not in built.feature_names
    column = built.feature_names.index("n_results")
    assert built.features[:, column].tolist() == features.get_column("n_results").to_list()


def test_rows_follow_the_feature_table_order(warehouse: dict[str, pl.DataFrame]) -> None:
    features = warehouse["mart_vehicle_features"]
    events = warehouse["mart_vehicle_events"]
    spec = fit_tabular_spec(features, events)
    forward = build_tabular(features, events, spec).features
    backward = build_tabular(features.reverse(), events, spec).features
    np.testing.assert_array_equal(backward, forward[::-1])


def test_margins_are_measured_against_the_training_window() -> None:
    events = events_frame(
        ("2024-0000002", [{"value": 19.0}, {"value": 14.0}, {"value": 25.0, "status": 13}])
    )
    row = table_of(events, ["2024-0000002"])
    assert row["margin_min"] == pytest.approx(0.1)  # 19 in [10, 20]; the NOK 25 does not count
    assert row["margin_min_bolting"] == pytest.approx(0.1)
    assert math.isnan(row["margin_min_machines"])
    assert row["n_near_limit"] == 0.0


def test_values_outside_the_training_window_get_negative_clipped_margins() -> None:
    events = events_frame(("2024-0000002", [{"value": 21.0}, {"value": 19.8}]))
    assert table_of(events, ["2024-0000002"])["margin_min"] == pytest.approx(-0.1)
    extreme = events_frame(("2024-0000002", [{"value": 1e6}]))
    assert table_of(extreme, ["2024-0000002"])["margin_min"] == -1.0


def test_results_near_a_limit_are_counted_per_group() -> None:
    events = events_frame(
        (
            "2024-0000002",
            [{"value": 10.2}, {"value": 19.9}, {"value": 15.0}, {"value": 10.1, "id_group": 1}],
        )
    )
    row = table_of(events, ["2024-0000002"])
    assert row["n_near_limit"] == 3.0
    assert row["n_near_limit_bolting"] == 2.0
    assert row["n_near_limit_machines"] == 1.0  # the group is the event's own ID
    assert row["n_near_limit_electrical"] == 0.0


def test_vehicle_without_results_has_nan_margins_and_zero_counts() -> None:
    events = events_frame(("2024-0000002", [{"event_type": "zone", "code": "R750", "value": None}]))
    row = table_of(events, ["2024-0000002", "2024-0000003"])
    assert math.isnan(row["margin_min"])
    assert row["n_near_limit"] == 0.0


def test_tests_with_too_few_ok_values_get_no_window() -> None:
    spec = fit_tabular_spec(
        features_frame("2024-0000001"),
        training_events(),
        TabularConfig(min_ok_results=len(TRAIN_VALUES) + 1),
    )
    assert spec.windows.names == ()


def test_spec_and_training_rows_ignore_later_vehicles_with_extreme_values(
    warehouse: dict[str, pl.DataFrame],
) -> None:
    features = warehouse["mart_vehicle_features"]
    events = warehouse["mart_vehicle_events"]
    train = features.head(90)
    train_events = events.join(train.select("knr"), on="knr", how="semi")
    spec = fit_tabular_spec(train, train_events)

    later = features.slice(90).get_column("knr")
    extreme = events.with_columns(
        value=pl.when(pl.col("knr").is_in(later.implode())).then(1e9).otherwise(pl.col("value"))
    )
    assert fit_tabular_spec(train, extreme.join(train.select("knr"), on="knr", how="semi")) == spec
    alone = build_tabular(train, train_events, spec).features
    together = build_tabular(features, extreme, spec)
    np.testing.assert_array_equal(together.features[:90], alone)
    margin = together.feature_names.index("margin_min")
    assert (together.features[90:, margin] == -1.0).all()

    ok = train_events.filter(
        (pl.col("event_type") == "result")
        & (pl.col("status") == 10)
        & pl.col("value").is_not_null()
    )
    bounds = (
        ok.group_by("code", "detail")
        .agg(low=pl.col("value").min(), high=pl.col("value").max(), n=pl.len())
        .filter(pl.col("n") >= TabularConfig().min_ok_results)
        .sort("code", "detail")
    )
    assert spec.windows.names == tuple(bounds.get_column("code"))
    assert spec.windows.ok_min == tuple(bounds.get_column("low"))
    assert spec.windows.ok_max == tuple(bounds.get_column("high"))


def test_configuration_one_hot_has_unknown_and_missing_buckets() -> None:
    train = features_frame(
        "2024-0000001", "2024-0000002", modelo=["AM10", "AM12"], cor=["2R2R", "2R2R"]
    )
    spec = fit_tabular_spec(train, training_events(), small_config())
    assert spec.categories["modelo"] == ("AM10", "AM12")
    scored = features_frame("2024-0000003", "2024-0000004", modelo=["ZZ99", None])
    built = build_tabular(scored, training_events(), spec)
    names = built.feature_names
    rows = [dict(zip(names, row.tolist(), strict=True)) for row in built.features]
    assert rows[0][f"modelo={UNKNOWN_CATEGORY}"] == 1.0
    assert rows[0]["modelo=AM10"] == rows[0]["modelo=AM12"] == 0.0
    assert rows[1][f"modelo={MISSING_CATEGORY}"] == 1.0
    assert rows[1][f"modelo={UNKNOWN_CATEGORY}"] == 0.0


def test_a_table_without_mart_columns_is_refused_by_name() -> None:
    spec = fit_tabular_spec(features_frame("2024-0000001"), training_events(), small_config())
    with pytest.raises(ValueError, match="n_nok"):
        build_tabular(features_frame("2024-0000002").drop("n_nok"), training_events(), spec)


def test_a_vehicle_twice_in_the_table_is_refused() -> None:
    spec = fit_tabular_spec(features_frame("2024-0000001"), training_events(), small_config())
    with pytest.raises(ValueError, match="more than once"):
        build_tabular(features_frame("2024-0000002", "2024-0000002"), training_events(), spec)
