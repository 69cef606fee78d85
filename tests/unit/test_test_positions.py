"""Each windowed test's last value as a position in its window: one feature per test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from roadtest.features import (
    SequenceConfig,
    SequenceSpec,
    TabularConfig,
    build_sequences,
    build_tabular,
    fit_sequence_spec,
    fit_tabular_spec,
)
from roadtest.features.tabular import TabularSpec
from tests.unit.test_features_factories import events_frame, features_frame

TRAINING = events_frame(
    ("2024-0000001", [{"value": v} for v in (10.0, 12.0, 15.0, 18.0, 20.0)]),
    ("2024-0000001", [{"code": "015002", "detail": "3", "value": v} for v in (1.0, 2.0, 3.0)]),
)
"""Two tests with OK windows: 012001/1 over [10, 20] and 015002/3 over [1, 3]."""

POSITION = "position:012001/1"
OTHER = "position:015002/3"


def spec_of(test_positions: bool = True) -> TabularSpec:
    config = TabularConfig(
        min_ok_results=3,
        test_positions=test_positions,
        pooled_positions=False,
        line_entry_time=False,
    )
    return fit_tabular_spec(features_frame("2024-0000001"), TRAINING, config)


def rows_of(events_by_vehicle: dict[str, list[dict[str, object]]]) -> list[dict[str, float]]:
    events = events_frame(*events_by_vehicle.items())
    built = build_tabular(features_frame(*events_by_vehicle), events, spec_of())
    return [dict(zip(built.feature_names, row.tolist(), strict=True)) for row in built.features]


def test_every_windowed_test_gets_a_position_feature_in_window_order() -> None:
    names = spec_of().feature_names
    assert names[-2:] == (POSITION, OTHER)
    assert POSITION not in spec_of(test_positions=False).feature_names


def test_the_last_value_counts_and_its_position_is_signed() -> None:
    # a NOK 25, reworked to 12, retested at 11: the vehicle leaves the line with 11
    row = rows_of(
        {"2024-0000002": [{"value": 25.0, "status": 13}, {"value": 12.0}, {"value": 11.0}]}
    )[0]
    assert row[POSITION] == pytest.approx(0.1)  # 11 is 10 % above the lower edge
    high = rows_of({"2024-0000002": [{"value": 19.0}]})[0]
    assert high[POSITION] == pytest.approx(0.9)  # the margin would call both 0.1


def test_values_far_outside_are_clipped_and_absent_tests_are_nan() -> None:
    first, second = rows_of(
        {
            "2024-0000002": [{"value": 1e6}, {"code": "015002", "detail": "3", "value": -50.0}],
            "2024-0000003": [{"event_type": "zone", "code": "R750", "value": None}],
        }
    )
    assert first[POSITION] == 2.0
    assert first[OTHER] == -1.0
    assert math.isnan(second[POSITION]) and math.isnan(second[OTHER])


def test_rows_follow_the_feature_table_order() -> None:
    events = events_frame(
        ("2024-0000002", [{"value": 12.0}]),
        ("2024-0000003", [{"value": 18.0}]),
    )
    spec = spec_of()
    column = spec.feature_names.index(POSITION)
    forward = build_tabular(features_frame("2024-0000002", "2024-0000003"), events, spec)
    backward = build_tabular(features_frame("2024-0000003", "2024-0000002"), events, spec)
    np.testing.assert_allclose(forward.features[:, column], [0.2, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(backward.features[::-1], forward.features)


def test_a_spec_saved_before_positions_existed_keeps_its_columns() -> None:
    saved = spec_of(test_positions=False).to_dict()
    for setting in ("test_positions", "pooled_positions", "line_entry_time"):
        del saved["config"][setting]
    assert TabularSpec.from_dict(saved).feature_names == spec_of(False).feature_names
    assert TabularSpec.from_dict(spec_of().to_dict()) == spec_of()


def test_the_recurrent_static_inputs_leave_positions_out_unless_asked() -> None:
    tabular = spec_of()
    default = fit_sequence_spec(TRAINING, features_frame("2024-0000001"), tabular=tabular)
    assert POSITION not in default.static_names
    assert default.static_columns == tuple(
        n for n in tabular.feature_names if not n.startswith("position:")
    )
    built = build_sequences(TRAINING, features_frame("2024-0000001"), default, ["2024-0000001"])
    assert built.static.shape == (1, len(default.static_names))

    config = SequenceConfig(static_positions=True)
    wide = fit_sequence_spec(TRAINING, features_frame("2024-0000001"), config, tabular)
    assert wide.static_columns == tabular.feature_names
    assert SequenceSpec.from_dict(wide.to_dict(), tabular) == wide


def test_a_sequence_spec_saved_before_static_columns_existed_uses_the_whole_table() -> None:
    tabular = spec_of(test_positions=False)
    spec = fit_sequence_spec(TRAINING, features_frame("2024-0000001"), tabular=tabular)
    saved = spec.to_dict()
    del saved["static_columns"]
    del saved["config"]["static_positions"]
    assert SequenceSpec.from_dict(saved, tabular) == spec


def test_the_table_without_positions_is_the_full_table_minus_its_position_columns() -> None:
    events = events_frame(("2024-0000002", [{"value": 12.0}]), ("2024-0000003", [{"value": 9.0}]))
    features = features_frame("2024-0000002", "2024-0000003")
    full = build_tabular(features, events, spec_of())
    lean = build_tabular(features, events, spec_of(), with_positions=False)
    assert lean.feature_names == full.feature_names[:-2]
    np.testing.assert_array_equal(lean.features, full.features[:, :-2])
