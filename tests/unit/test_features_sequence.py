"""Event sequences: steps, vocabularies, scaling, truncation, padding, empty vehicles."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl
import pytest

from roadtest.features import (
    CATEGORICAL_CHANNELS,
    EMPTY_CODE,
    NUMERIC_CHANNELS,
    SequenceConfig,
    TabularConfig,
    build_sequences,
    fit_sequence_spec,
    fit_tabular_spec,
)
from roadtest.features.sequence import FIRST_TOKEN_CODE, SequenceSpec
from roadtest.models.inputs import PADDING_CODE, UNKNOWN_CODE
from roadtest.simulate import SimulatedPlant
from tests.unit.test_features_factories import events_frame, features_frame, ingest_like_files

CODE = CATEGORICAL_CHANNELS.index("code")
DETAIL = CATEGORICAL_CHANNELS.index("detail")
TYPE = CATEGORICAL_CHANNELS.index("event_type")


@pytest.fixture(scope="module")
def warehouse(small_plant: SimulatedPlant) -> dict[str, pl.DataFrame]:
    return ingest_like_files(small_plant)


@pytest.fixture(scope="module")
def plant_spec(warehouse: dict[str, pl.DataFrame]) -> SequenceSpec:
    return fit_sequence_spec(warehouse["mart_vehicle_events"], warehouse["mart_vehicle_features"])


def visit(minute: int, values: list[float], code: str = "012001") -> list[dict[str, Any]]:
    """One program visit: results of ``code`` at one timestamp, VALUE_IDs 1, 2, …"""
    return [
        {"minute": minute, "code": code, "detail": str(i + 1), "value": v}
        for i, v in enumerate(values)
    ]


ZONE: dict[str, Any] = {"event_type": "zone", "code": "R750", "detail": "", "id_group": None}
ZONE.update(status=None, value=None)

TRAIN_KNRS = [f"2024-000000{i}" for i in range(1, 7)]


def hand_spec(**config: Any) -> SequenceSpec:
    """Spec fitted on six vehicles: R750, then 012001 VALUE_IDs 1-3; every window is [10, 20]."""
    events = events_frame(
        *(
            (knr, [{**ZONE, "minute": 0}, *visit(5, [10.0 + 2 * i, 20.0 - 2 * i, 10.0 + 2 * i])])
            for i, knr in enumerate(TRAIN_KNRS)
        )
    )
    features = features_frame(*TRAIN_KNRS)
    tabular = fit_tabular_spec(features, events, TabularConfig(min_ok_results=5))
    return fit_sequence_spec(events, features, SequenceConfig(min_count=2, **config), tabular)


def test_plant_sequences_have_the_contract_shapes_and_dtypes(
    warehouse: dict[str, pl.DataFrame], plant_spec: SequenceSpec
) -> None:
    features = warehouse["mart_vehicle_features"]
    knrs = features.get_column("knr").to_list()
    built = build_sequences(warehouse["mart_vehicle_events"], features, plant_spec, knrs)
    n = len(knrs)
    assert built.categorical.dtype == np.int64 and built.numeric.dtype == np.float32
    assert built.categorical.shape[::2] == (n, len(CATEGORICAL_CHANNELS))
    assert built.numeric.shape[::2] == (n, len(NUMERIC_CHANNELS))
    assert built.static.shape == (n, len(plant_spec.static_names))
    assert built.lengths.max() == built.categorical.shape[1] <= plant_spec.config.max_len
    cards = np.asarray(plant_spec.cardinalities)
    assert (built.categorical.max(axis=(0, 1)) < cards).all()
    valid = np.arange(built.categorical.shape[1])[None, :] < built.lengths[:, None]
    assert (built.categorical[valid] >= UNKNOWN_CODE).all()
    assert (built.categorical[~valid] == PADDING_CODE).all()
    assert (built.numeric[~valid] == 0).all()
    steps = warehouse["mart_vehicle_events"].group_by("knr").len()
    assert int(built.lengths.sum()) < steps.get_column("len").sum()  # visits merge results


def test_vehicles_come_in_the_order_asked(
    warehouse: dict[str, pl.DataFrame], plant_spec: SequenceSpec
) -> None:
    events, features = warehouse["mart_vehicle_events"], warehouse["mart_vehicle_features"]
    knrs = features.get_column("knr").to_list()[:40]
    forward = build_sequences(events, features, plant_spec, knrs)
    backward = build_sequences(events.reverse(), features, plant_spec, knrs[::-1])
    t = forward.categorical.shape[1]
    assert backward.categorical.shape[1] == t
    np.testing.assert_array_equal(backward.categorical, forward.categorical[::-1])
    np.testing.assert_array_equal(backward.numeric, forward.numeric[::-1])
    np.testing.assert_array_equal(backward.static, forward.static[::-1])


def test_a_program_visit_is_one_step_carrying_its_weakest_result() -> None:
    spec = hand_spec()
    events = events_frame(("2024-0000009", [{**ZONE, "minute": 0}, *visit(5, [15.0, 19.5, 12.0])]))
    built = build_sequences(events, features_frame("2024-0000009"), spec, ["2024-0000009"])
    assert built.lengths.tolist() == [2]
    step = dict(zip(NUMERIC_CHANNELS, built.numeric[0, 1].tolist(), strict=True))
    assert step["log_n_results"] == pytest.approx(np.log1p(3))
    assert step["margin_min"] == pytest.approx(0.05)  # 19.5 in the window [10, 20]
    weakest = spec.vocabularies["detail"].index("result:012001/2")
    assert built.categorical[0, 1, DETAIL] == FIRST_TOKEN_CODE + weakest


def test_event_granularity_gives_one_step_per_event() -> None:
    spec = hand_spec(granularity="event")
    events = events_frame(("2024-0000009", [{**ZONE, "minute": 0}, *visit(5, [15.0, 19.5, 12.0])]))
    built = build_sequences(events, features_frame("2024-0000009"), spec, ["2024-0000009"])
    assert built.lengths.tolist() == [4]
    assert built.categorical[0, 1:, CODE].tolist() == [built.categorical[0, 1, CODE]] * 3


def test_codes_not_seen_in_training_are_unknown() -> None:
    spec = hand_spec()
    events = events_frame(
        ("2024-0000009", [{**ZONE, "code": "X999", "minute": 0}, *visit(5, [15.0], "099999")])
    )
    built = build_sequences(events, features_frame("2024-0000009"), spec, ["2024-0000009"])
    assert built.categorical[0, :2, CODE].tolist() == [UNKNOWN_CODE, UNKNOWN_CODE]
    assert built.categorical[0, :2, TYPE].min() >= FIRST_TOKEN_CODE
    step = dict(zip(NUMERIC_CHANNELS, built.numeric[0, 1].tolist(), strict=True))
    assert step["margin_share"] == 0.0 and step["value_share"] == 0.0


def test_tokens_rarer_than_min_count_are_unknown() -> None:
    rare = events_frame(
        *((knr, [{**ZONE, "minute": 0}]) for knr in TRAIN_KNRS),
        ("2024-0000007", [{**ZONE, "code": "G700", "minute": 0}]),
    )
    features = features_frame(*TRAIN_KNRS, "2024-0000007")
    tabular = fit_tabular_spec(features, rare, TabularConfig(min_ok_results=5))
    spec = fit_sequence_spec(rare, features, SequenceConfig(min_count=2), tabular)
    assert spec.vocabularies["code"] == ("zone:R750",)


def test_a_vehicle_without_events_gets_one_empty_event() -> None:
    spec = hand_spec()
    events = events_frame(("2024-0000009", [{**ZONE, "minute": 0}, *visit(5, [15.0])]))
    knrs = ["2024-0000008", "2024-0000009"]
    built = build_sequences(events, features_frame(*knrs), spec, knrs)
    assert built.lengths.tolist() == [1, 2]
    assert built.categorical[0, 0].tolist() == [EMPTY_CODE] * len(CATEGORICAL_CHANNELS)
    assert (built.numeric[0] == 0).all()


def test_long_vehicles_keep_their_last_steps(
    warehouse: dict[str, pl.DataFrame], plant_spec: SequenceSpec
) -> None:
    events, features = warehouse["mart_vehicle_events"], warehouse["mart_vehicle_features"]
    knrs = features.get_column("knr").to_list()[:30]
    full = build_sequences(events, features, plant_spec, knrs)
    short_spec = replace(plant_spec, config=SequenceConfig(max_len=10))
    short = build_sequences(events, features, short_spec, knrs)
    assert short.lengths.tolist() == np.minimum(full.lengths, 10).tolist()
    for i, length in enumerate(full.lengths.tolist()):
        keep = min(length, 10)
        np.testing.assert_array_equal(
            short.categorical[i, :keep], full.categorical[i, length - keep : length]
        )
        np.testing.assert_array_equal(
            short.numeric[i, :keep], full.numeric[i, length - keep : length]
        )
    np.testing.assert_array_equal(short.static, full.static)


def test_static_inputs_are_standardised_with_missing_indicators() -> None:
    spec = hand_spec()
    assert "margin_min" not in spec.static_missing  # every training vehicle has a margin
    assert "dwell_zp5_s" not in spec.static_missing  # zeros in the factory rows, never null
    events = events_frame(("2024-0000009", [{**ZONE, "minute": 0}]))
    built = build_sequences(events, features_frame("2024-0000009"), spec, ["2024-0000009"])
    static = dict(zip(spec.static_names, built.static[0].tolist(), strict=True))
    mean = spec.static_mean[spec.tabular.feature_names.index("margin_min")]
    assert np.isfinite(mean) and static["margin_min"] == 0.0  # missing -> 0
    assert np.isfinite(built.static).all()


def test_static_missing_indicator_marks_features_missing_in_training() -> None:
    events = events_frame(
        (
            "2024-0000001",
            [e for m, v in enumerate((10.0, 12.0, 14.0, 16.0, 20.0)) for e in visit(m, [v])],
        ),
        ("2024-0000002", [{**ZONE, "minute": 0}]),
    )
    features = features_frame("2024-0000001", "2024-0000002")
    tabular = fit_tabular_spec(features, events, TabularConfig(min_ok_results=5))
    spec = fit_sequence_spec(events, features, SequenceConfig(min_count=1), tabular)
    assert "margin_min" in spec.static_missing
    built = build_sequences(events, features, spec, ["2024-0000002", "2024-0000001"])
    indicator = spec.static_names.index("margin_min:missing")
    assert built.static[:, indicator].tolist() == [1.0, 0.0]


def test_asking_for_a_vehicle_without_a_feature_row_is_refused() -> None:
    spec = hand_spec()
    events = events_frame(("2024-0000009", [{**ZONE, "minute": 0}]))
    with pytest.raises(ValueError, match="2024-0000010"):
        build_sequences(events, features_frame("2024-0000009"), spec, ["2024-0000010"])
    with pytest.raises(ValueError, match="more than once"):
        build_sequences(
            events, features_frame("2024-0000009"), spec, ["2024-0000009", "2024-0000009"]
        )


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="granularity"):
        SequenceConfig(granularity="bolt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_len"):
        SequenceConfig(max_len=0)
