"""Counts of earlier defects per defect type in the vehicle table."""

from __future__ import annotations

import numpy as np
import pytest

from roadtest.features import TabularConfig, build_tabular, fit_sequence_spec, fit_tabular_spec
from roadtest.features.tabular import DEFECT_TYPE_PREFIX, TabularSpec
from tests.unit.test_features_factories import events_frame, features_frame


def defect(falha: str) -> dict[str, object]:
    return {"event_type": "defect", "code": "doors@ZP6", "detail": falha, "status": None}


TRAINING = events_frame(
    ("2024-0000001", [defect("PORTA DIANTEIRA 01. SOLTO"), defect("PARALAMA 02. riscado ")]),
    ("2024-0000004", [defect("PORTA 03. Solto"), defect("TETO 01. RISCADO")]),
    ("2024-0000005", [defect("CAPO 01. TRINCADO"), defect("SEM SEPARADOR"), {"value": 15.0}]),
)
"""Training defects: SOLTO and RISCADO twice each (whatever the case), TRINCADO once, and a
text without a 'PART NN. ' head, which has no type."""


def spec_of(defect_types: bool = True, max_defect_types: int = 30) -> TabularSpec:
    config = TabularConfig(
        min_ok_results=2,
        defect_types=defect_types,
        min_defect_type_count=2,
        max_defect_types=max_defect_types,
    )
    knrs = ("2024-0000001", "2024-0000004", "2024-0000005")
    return fit_tabular_spec(features_frame(*knrs), TRAINING, config)


def rows_of(events: dict[str, list[dict[str, object]]]) -> list[dict[str, float]]:
    built = build_tabular(features_frame(*events), events_frame(*events.items()), spec_of())
    return [dict(zip(built.feature_names, row.tolist(), strict=True)) for row in built.features]


def test_types_are_the_text_after_the_part_seen_often_enough_in_training() -> None:
    assert spec_of().defect_types == ("RISCADO", "SOLTO")
    assert spec_of(max_defect_types=1).defect_types == ("RISCADO",)  # ties go by name
    assert spec_of(defect_types=False).defect_types == ()


def test_each_vehicle_counts_its_defects_per_type_and_ignores_unknown_types() -> None:
    loose, scratch = f"{DEFECT_TYPE_PREFIX}SOLTO", f"{DEFECT_TYPE_PREFIX}RISCADO"
    rows = rows_of(
        {
            "2024-0000002": [defect("BANCO 01. solto"), defect("PORTA 04. SOLTO")],
            "2024-0000003": [defect("CAPO 01. TRINCADO"), defect("VIDRO 02. FALTANTE")],
            "2024-0000006": [{"value": 15.0}],
        }
    )
    assert (rows[0][loose], rows[0][scratch]) == (2.0, 0.0)
    assert (rows[1][loose], rows[1][scratch]) == (0.0, 0.0)
    assert (rows[2][loose], rows[2][scratch]) == (0.0, 0.0)


def test_a_vehicle_alone_gets_the_row_it_gets_among_others() -> None:
    events = {
        "2024-0000002": [defect("BANCO 01. SOLTO")],
        "2024-0000003": [defect("TETO 01. RISCADO"), defect("TETO 02. RISCADO")],
    }
    both = build_tabular(features_frame(*events), events_frame(*events.items()), spec_of())
    alone = build_tabular(
        features_frame("2024-0000003"),
        events_frame(("2024-0000003", events["2024-0000003"])),
        spec_of(),
    )
    np.testing.assert_array_equal(alone.features[0], both.features[1])


def test_the_types_survive_saving_and_an_older_spec_keeps_its_columns() -> None:
    spec = spec_of()
    assert TabularSpec.from_dict(spec.to_dict()) == spec
    saved = spec.to_dict()
    del saved["config"]["defect_types"], saved["defect_types"]
    older = TabularSpec.from_dict(saved)
    assert not any(n.startswith(DEFECT_TYPE_PREFIX) for n in older.feature_names)
    with pytest.raises(ValueError, match="max_defect_types"):
        TabularConfig(max_defect_types=0)


def test_the_recurrent_static_inputs_leave_the_type_counts_out() -> None:
    tabular = spec_of()
    sequence = fit_sequence_spec(TRAINING, features_frame("2024-0000001"), tabular=tabular)
    assert f"{DEFECT_TYPE_PREFIX}SOLTO" in tabular.tail_feature_names
    assert set(sequence.static_columns).isdisjoint(tabular.tail_feature_names)
