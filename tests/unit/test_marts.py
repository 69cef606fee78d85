"""Feature marts on a hand-built plant whose feature values are computed by hand."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roadtest.etl.engines import run_transforms
from tests.unit.test_transforms import FULL_CHAIN, KNR, OTHER, PRE_CHAIN, BronzeBuilder, at, row

HOUR = 3600.0


def hand_plant() -> BronzeBuilder:
    """KNR: labelled (M710 at minute 360); OTHER: on the line, not yet at the road test."""
    b = BronzeBuilder().line(KNR, 0, FULL_CHAIN)
    b.result(KNR, "012001", at(10), value_id="1", value=10.0)
    b.result(KNR, "012001", at(10), value_id="2", value=12.5)
    b.result(KNR, "012001", at(60), value_id="1", value=14.0, status=13)  # retest in ZP5A
    b.result(KNR, "012001", at(75), value_id="1", value=11.0)  # retest in ZP5A
    b.result(KNR, "730100", at(130), id_group=718, value=12.5, unit="V")
    b.result(KNR, "042000", at(200), id_group=1, value=5.0, unit="kg")
    b.result(KNR, "SECTION_ZP8_01", at(100), id_group=1, value=1.0)  # never a feature
    b.result(KNR, "012001", at(400), value_id="1", value=15.9)  # after the road-test start
    b.defect(KNR, "ZP6", "PARALAMA. AMASSADO", at(190), s_group_id=5)
    b.defect(KNR, "ZP6", "PORTA. RISCO", at(60), s_group_id=4)  # same instant as L540
    b.defect(KNR, "ZP62", "PORTA. RISCO", at(260), s_group_id=None)
    b.defect(KNR, "ROD", "PORTA. RUIDO", at(380), s_group_id=4, cor="0000")
    b.defect(KNR, "AGUA", "PORTA. INFILTRACAO", at(430), s_group_id=4, cor="0000")
    b.line(OTHER, 30, PRE_CHAIN[:3])
    b.result(OTHER, "012001", at(40), value_id="1", value=8.0)
    b.result(OTHER, "012001", at(50), value_id="1", value=16.0)
    b.result(OTHER, "012001", at(45), value_id="2", value=9.0)
    b.result(OTHER, "012001", at(55), value_id="2", value=13.0)
    b.result(OTHER, "730100", at(60), id_group=718, value=12.0, unit="V")
    b.result(OTHER, "730100", at(65), id_group=718, value=14.0, unit="V")
    return b


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return run_transforms(hand_plant().frames())


def test_labelled_vehicle_features_by_hand(tables: dict[str, pl.DataFrame]) -> None:
    f = row(tables["mart_vehicle_features"], knr=KNR)
    expected = {
        "as_of": at(360),
        "labelled": True,
        "modelo": "MOD1",
        "cor": "2R2R",  # the ROD/AGUA rows' colour is not known before the road test
        "motor": "DHS",
        "span_s": 6 * HOUR,
        "n_results": 6,
        "n_nok": 1,
        "n_rework": 2,
        "n_rework_after_zone_exit": 2,
        "n_programs": 3,
        "n_nok_programs": 1,
        "max_nok_in_program": 1,
        "n_results_bolting": 4,
        "n_nok_bolting": 1,
        "nok_rate_bolting": 0.25,
        "n_rework_bolting": 2,
        "rework_rate_bolting": 0.5,
        "n_results_electrical": 1,
        "nok_rate_electrical": 0.0,
        "n_results_machines": 1,
        # windows: 012001/1 [8, 16], 012001/2 [9, 13], 730100 [12, 14], 042000 [5, 5]
        "min_margin_bolting": 0.125,  # 12.5 in [9, 13]: 0.5 / 4
        "min_margin_electrical": 0.25,  # 12.5 in [12, 14]: 0.5 / 2
        "min_margin_machines": None,  # a window of zero width says nothing
        "min_margin": 0.125,
        "n_passages": 6,
        "n_chain_zones": 6,
        "has_complete_chain": True,
        "n_negative_gaps": 0,
        "dwell_zp5_s": HOUR,
        "dwell_zp5a_s": HOUR,
        "dwell_zp61_s": HOUR,
        "dwell_zp6_s": HOUR,
        "dwell_cab_s": HOUR,
        "line_time_s": 5 * HOUR,
        "n_defects": 3,
        "n_defect_types": 2,
        "n_defects_grp_front": 1,
        "n_defects_grp_doors": 1,
        "n_defects_grp_unknown": 1,
        "n_defects_grp_electrical": 0,
        "n_defects_zone_zp6": 2,
        "n_defects_zone_zp62": 1,
        "n_defects_zone_cab": 0,
    }
    assert {k: f[k] for k in expected} == expected
    assert f["nok_rate"] == pytest.approx(1 / 6)
    assert f["rework_rate"] == pytest.approx(2 / 6)


def test_unlabelled_vehicle_features_run_to_its_latest_row(
    tables: dict[str, pl.DataFrame],
) -> None:
    f = row(tables["mart_vehicle_features"], knr=OTHER)
    assert (f["as_of"], f["labelled"], f["span_s"]) == (at(150), False, 2 * HOUR)
    assert (f["n_results"], f["n_rework"], f["n_defects"]) == (6, 3, 0)
    assert (f["modelo"], f["n_chain_zones"], f["dwell_zp5_s"]) == (None, 3, HOUR)
    assert f["dwell_zp61_s"] is None  # M600 not reached yet
    assert f["min_margin_bolting"] == 0.0  # its values are the window's edges


def test_event_sequence_order_and_times(tables: dict[str, pl.DataFrame]) -> None:
    events = tables["mart_vehicle_events"].filter(pl.col("knr") == KNR)
    head = events.head(7).select(
        "seq", "event_type", "code", "detail", "t_offset_seconds", "dt_prev_seconds"
    )
    expected = pl.DataFrame(
        {
            "seq": [0, 1, 2, 3, 4, 5, 6],
            "event_type": ["zone", "result", "result", "zone", "result", "defect", "result"],
            "code": ["R750", "012001", "012001", "L540", "012001", "doors@ZP6", "012001"],
            "detail": ["", "1", "2", "", "1", "PORTA. RISCO", "1"],
            "t_offset_seconds": [0.0, 600.0, 600.0, 3600.0, 3600.0, 3600.0, 4500.0],
            "dt_prev_seconds": [0.0, 600.0, 0.0, 3000.0, 0.0, 0.0, 900.0],
        }
    )
    assert_frame_equal(head, expected)
    assert events["seq"].to_list() == list(range(events.height))
    # 6 passages before M710, 6 results (no SECTION_ZP8, nothing after 6 h), 3 defects.
    assert events.height == 15
    assert events.filter(pl.col("data") >= at(360)).is_empty()
    nok = row(events, seq=4)
    assert (nok["is_nok"], nok["is_rework"], nok["status"], nok["value"]) == (True, True, 13, 14.0)
    defect = row(events, seq=5)
    assert (defect["id_group"], defect["is_nok"], defect["status"]) == (4, False, None)


def test_output_does_not_depend_on_input_row_order() -> None:
    frames = hand_plant().frames()
    shuffled = {t: f.sample(fraction=1.0, shuffle=True, seed=7) for t, f in frames.items()}
    first, second = run_transforms(frames), run_transforms(shuffled)
    for name, frame in first.items():
        assert_frame_equal(frame, second[name])


def test_given_spec_windows_replace_the_derived_ones() -> None:
    windows = pl.DataFrame(
        {"name": ["012001"], "value_id": ["2"], "ok_min": [12.0], "ok_max": [14.0]}
    )
    tables = run_transforms(hand_plant().frames(), spec_windows=windows)
    f = row(tables["mart_vehicle_features"], knr=KNR)
    assert f["min_margin_bolting"] == 0.25  # 12.5 in [12, 14]
    assert f["min_margin_electrical"] is None  # no window given for 730100
    # dim_test still describes the data it was given.
    assert row(tables["dim_test"], name="012001", value_id="2")["ok_min"] == 9.0


def test_only_the_requested_tables_are_returned() -> None:
    tables = run_transforms(hand_plant().frames(), tables=["dim_test", "vehicle_label"])
    assert list(tables) == ["dim_test", "vehicle_label"]
    with pytest.raises(KeyError, match="unknown warehouse table 'dim_tests'"):
        run_transforms(hand_plant().frames(), tables=["dim_tests"])


def test_vehicle_with_only_post_road_test_rows_has_no_feature_row() -> None:
    b = hand_plant()
    b.passage("2024-0000009", "M710", at(10)).defect("2024-0000009", "ROD", "A. B", at(20))
    tables = run_transforms(b.frames())
    assert "2024-0000009" not in tables["mart_vehicle_features"]["knr"].to_list()
    assert "2024-0000009" in tables["vehicle_label"]["knr"].to_list()
