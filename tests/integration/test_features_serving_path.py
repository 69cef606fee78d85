"""Serving builds the same examples from a vehicle's raw rows as training from the warehouse.

(a) the whole plant ingested as files (validate_rows → run_transforms over
all vehicles) and (b) ``examples_from_partner_rows`` on each vehicle's own
rows must give identical model inputs for one fitted spec. The marts
themselves differ only in the ETL's cross-vehicle margin columns, which the
feature builders do not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from roadtest.features import (
    CROSS_VEHICLE_COLUMNS,
    FeatureSpec,
    build_sequences,
    build_tabular,
    examples_from_partner_rows,
    fit_feature_spec,
)
from roadtest.simulate import SimulatedPlant
from tests.unit.test_features_factories import export_text, ingest_like_files

pytestmark = pytest.mark.slow

RECEIVED_AT = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def warehouse(small_plant: SimulatedPlant) -> dict[str, pl.DataFrame]:
    return ingest_like_files(small_plant)


@pytest.fixture(scope="module")
def spec(warehouse: dict[str, pl.DataFrame]) -> FeatureSpec:
    return fit_feature_spec(warehouse["mart_vehicle_features"], warehouse["mart_vehicle_events"])


def _first(frame: pl.DataFrame, condition: pl.Expr) -> str:
    return str(frame.filter(condition).get_column("knr").sort().item(0))


@pytest.fixture(scope="module")
def chosen(warehouse: dict[str, pl.DataFrame]) -> list[str]:
    """Vehicles of every kind: failed, passed, unlabelled, incomplete chain, defects, NOKs."""
    labels = warehouse["vehicle_label"]
    features = warehouse["mart_vehicle_features"]
    picks = [
        _first(labels, pl.col("road_test_failed")),
        _first(labels, ~pl.col("road_test_failed")),
        _first(features, ~pl.col("labelled")),
        _first(features, ~pl.col("has_complete_chain")),
        _first(features, pl.col("n_defects") > 1),
        _first(features, pl.col("n_nok") > 0),
        _first(features, pl.col("n_rework_after_zone_exit") > 0),
        _first(features, pl.col("modelo").is_null()),
    ]
    return list(dict.fromkeys(picks))


def rows_of(plant: SimulatedPlant, knrs: list[str]) -> Iterator[pl.DataFrame]:
    """RESULTADOS, STATUS, FALHAS rows of ``knrs`` as exported (typed cells)."""
    for frame in (plant.resultados, plant.status, plant.falhas):
        yield frame.filter(pl.col("KNR").is_in(knrs))


@pytest.fixture(scope="module")
def served(small_plant: SimulatedPlant, chosen: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Marts of each chosen vehicle built from its own rows alone, stacked."""
    features, events = [], []
    for knr in chosen:
        one_features, one_events, quarantined = examples_from_partner_rows(
            *rows_of(small_plant, [knr]), received_at=RECEIVED_AT
        )
        assert quarantined.height == 0
        assert one_features.get_column("knr").to_list() == [knr]
        features.append(one_features)
        events.append(one_events)
    return pl.concat(features), pl.concat(events)


def test_served_vehicles_get_the_inputs_training_builds_from_the_warehouse(
    warehouse: dict[str, pl.DataFrame],
    spec: FeatureSpec,
    chosen: list[str],
    served: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    features, events = warehouse["mart_vehicle_features"], warehouse["mart_vehicle_events"]
    served_features, served_events = served
    mine = features.filter(pl.col("knr").is_in(chosen)).sort(
        pl.col("knr").replace_strict(chosen, range(len(chosen)))
    )
    trained = build_tabular(mine, events, spec.tabular)
    serving = build_tabular(served_features, served_events, spec.tabular)
    np.testing.assert_array_equal(serving.features, trained.features)

    from_warehouse = build_sequences(events, features, spec.sequence, chosen)
    from_rows = build_sequences(served_events, served_features, spec.sequence, chosen)
    for name in ("categorical", "numeric", "lengths", "static"):
        np.testing.assert_array_equal(getattr(from_rows, name), getattr(from_warehouse, name))


def test_marts_differ_only_in_the_cross_vehicle_margin_columns(
    warehouse: dict[str, pl.DataFrame],
    chosen: list[str],
    served: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    served_features, served_events = served
    stored_events = warehouse["mart_vehicle_events"].filter(pl.col("knr").is_in(chosen))
    assert served_events.sort("knr", "seq").equals(stored_events.sort("knr", "seq"))
    stored = warehouse["mart_vehicle_features"].filter(pl.col("knr").is_in(chosen)).sort("knr")
    alone = served_features.sort("knr")
    differing = {c for c in stored.columns if not stored.get_column(c).equals(alone.get_column(c))}
    assert differing, "the ETL margins now agree: drop CROSS_VEHICLE_COLUMNS from the exclusions?"
    assert differing <= set(CROSS_VEHICLE_COLUMNS)


def test_many_vehicles_in_one_request_and_text_cells_give_the_same_marts(
    small_plant: SimulatedPlant, chosen: list[str], served: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    resultados, status, falhas = rows_of(small_plant, chosen)
    features, events, _ = examples_from_partner_rows(
        export_text(resultados), export_text(status), export_text(falhas), received_at=RECEIVED_AT
    )
    served_features, served_events = served
    assert events.equals(served_events.sort("knr", "seq"))
    same = [c for c in features.columns if c not in CROSS_VEHICLE_COLUMNS]
    assert features.select(same).equals(served_features.sort("knr").select(same))


def test_unreadable_rows_come_back_quarantined_and_the_rest_is_served(
    small_plant: SimulatedPlant, chosen: list[str], served: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    knr = chosen[0]
    resultados, status, falhas = rows_of(small_plant, [knr])
    bad = export_text(resultados.head(1)).with_columns(DATA=pl.lit("yesterday"))
    features, events, quarantined = examples_from_partner_rows(
        pl.concat([export_text(resultados), bad]), status, falhas, received_at=RECEIVED_AT
    )
    assert quarantined.get_column("table").to_list() == ["RESULTADOS"]
    assert "DATA 'yesterday' is not a date and time" in quarantined.get_column("reason").item()
    served_features, served_events = served
    assert features.equals(served_features.filter(pl.col("knr") == knr))
    assert events.equals(served_events.filter(pl.col("knr") == knr))


def test_missing_tables_and_optional_columns_are_accepted(
    small_plant: SimulatedPlant, chosen: list[str]
) -> None:
    resultados, _, falhas = rows_of(small_plant, [chosen[0]])
    features, events, quarantined = examples_from_partner_rows(
        resultados.drop("UNIT", "VALUE_ID"), pl.DataFrame(), falhas.drop("S_GROUP_ID")
    )
    assert quarantined.height == 0
    assert features.get_column("knr").to_list() == [chosen[0]]
    assert events.filter(pl.col("event_type") == "zone").height == 0
    assert events.filter(pl.col("event_type") == "result").get_column(
        "detail"
    ).unique().to_list() == [""]


def test_rows_without_a_required_column_are_refused_by_name(small_plant: SimulatedPlant) -> None:
    resultados, status, falhas = rows_of(small_plant, [small_plant.resultados.item(0, "KNR")])
    with pytest.raises(ValueError, match="STATUS"):
        examples_from_partner_rows(resultados.drop("STATUS"), status, falhas)
