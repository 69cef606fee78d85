"""Positions pooled per family of alike tests, and the line-entry time, in the vehicle table."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from roadtest.features import TabularConfig, build_tabular, fit_sequence_spec, fit_tabular_spec
from roadtest.features.tabular import LINE_ENTRY_COLUMN, TabularSpec
from roadtest.features.windows import SpecWindows, family_labels
from tests.unit.test_features_factories import START, events_frame, features_frame

BOLTS = ("1", "2", "3")
TRAINING = events_frame(
    (
        "2024-0000001",
        [
            *(
                {"detail": b, "value": v}
                for b in BOLTS
                for v in (110.0, 115.0, 120.0, 125.0, 130.0)
            ),
            *({"detail": a, "value": v} for a in ("8", "9") for v in (30.0, 45.0, 60.0)),
            *({"code": "015002", "detail": "3", "value": v} for v in (1.0, 2.0, 3.0)),
        ],
    ),
)
"""Program 012001: three bolts' torques over [110, 130], two angles over [30, 60]; and a
program of one test, 015002/3 over [1, 3], which no family pools."""

TORQUES, ANGLE = "012001#0", "012001#1"


def spec_of(**settings: bool) -> TabularSpec:
    config = TabularConfig(min_ok_results=3, **settings)
    return fit_tabular_spec(features_frame("2024-0000001"), TRAINING, config)


def row_of(events: list[dict[str, object]]) -> dict[str, float]:
    built = build_tabular(
        features_frame("2024-0000002"), events_frame(("2024-0000002", events)), spec_of()
    )
    return dict(zip(built.feature_names, built.features[0].tolist(), strict=True))


def test_tests_with_alike_windows_form_one_family_per_program() -> None:
    windows = SpecWindows(
        names=("012001", "012001", "012001", "013005"),
        value_ids=("1", "2", "5", "1"),
        ok_min=(110.0, 111.0, 30.0, 110.0),
        ok_max=(130.0, 129.0, 60.0, 130.0),
        n_ok=(10, 10, 10, 10),
    )
    assert family_labels(windows) == ("012001#0", "012001#0", "012001#1", "013005#0")


def test_one_bolt_near_an_edge_shows_in_its_family_and_not_in_the_other() -> None:
    # bolt 2 at 111 Nm: 5 % of the window above the lower edge; the others mid-window
    row = row_of(
        [
            {"detail": "1", "value": 120.0},
            {"detail": "2", "value": 111.0},
            {"detail": "3", "value": 121.0},
            {"detail": "9", "value": 45.0},
        ]
    )
    assert row[f"edge_min:{TORQUES}"] == pytest.approx(0.05)
    assert row[f"n_near_edge:{TORQUES}"] == 1.0
    assert row[f"edge_min:{ANGLE}"] == pytest.approx(0.5)
    assert row[f"n_near_edge:{ANGLE}"] == 0.0


def test_the_upper_edge_counts_as_near_too_and_a_family_without_values_is_nan() -> None:
    row = row_of([{"detail": "1", "value": 129.0}, {"detail": "3", "value": 129.5}])
    assert row[f"edge_min:{TORQUES}"] == pytest.approx(0.025)
    assert row[f"n_near_edge:{TORQUES}"] == 2.0
    assert math.isnan(row[f"edge_min:{ANGLE}"])
    assert row[f"n_near_edge:{ANGLE}"] == 0.0


def test_line_entry_is_the_first_event_in_days_since_1970() -> None:
    row = row_of([{"value": 120.0, "minute": 0}, {"value": 121.0, "minute": 600}])
    epoch_days = (START - START.replace(year=1970, month=1, day=1, hour=0, minute=0)).days
    assert row[LINE_ENTRY_COLUMN] == pytest.approx(epoch_days + 0.25, abs=1e-3)


def test_a_vehicle_alone_gets_the_row_it_gets_among_others() -> None:
    events = events_frame(
        ("2024-0000002", [{"detail": "2", "value": 129.0, "minute": 5}]),
        ("2024-0000003", [{"detail": "9", "value": 31.0, "minute": 90}]),
    )
    both = build_tabular(features_frame("2024-0000002", "2024-0000003"), events, spec_of())
    alone = build_tabular(
        features_frame("2024-0000003"), events.filter(events["knr"] == "2024-0000003"), spec_of()
    )
    np.testing.assert_array_equal(alone.features[0], both.features[1])
    assert both.features[1, -1] - both.features[0, -1] == pytest.approx(
        timedelta(minutes=85) / timedelta(days=1), abs=1e-3
    )


def test_the_settings_switch_their_columns_and_survive_saving() -> None:
    full, bare = spec_of(), spec_of(pooled_positions=False, line_entry_time=False)
    added = set(full.feature_names) - set(bare.feature_names)
    assert added == {
        LINE_ENTRY_COLUMN,
        *(f"{kind}:{f}" for f in (TORQUES, ANGLE) for kind in ("edge_min", "n_near_edge")),
    }
    assert "position:015002/3" in bare.feature_names  # a lone test keeps its position only
    assert TabularSpec.from_dict(full.to_dict()) == full
    with pytest.raises(ValueError, match="near_edge"):
        TabularConfig(near_edge=0.0)


def test_the_recurrent_static_inputs_leave_the_new_columns_out() -> None:
    tabular = spec_of()
    sequence = fit_sequence_spec(TRAINING, features_frame("2024-0000001"), tabular=tabular)
    assert set(sequence.static_columns).isdisjoint(tabular.tail_feature_names)
