"""The feature spec saved with a model: JSON round trip, versioning, consistency."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from roadtest.features import (
    FeatureSpec,
    SequenceConfig,
    build_sequences,
    build_tabular,
    fit_feature_spec,
    fit_sequence_spec,
)
from roadtest.features.spec import FORMAT
from roadtest.simulate import SimulatedPlant
from tests.unit.test_features_factories import ingest_like_files


@pytest.fixture(scope="module")
def marts(small_plant: SimulatedPlant) -> tuple[pl.DataFrame, pl.DataFrame]:
    warehouse = ingest_like_files(small_plant)
    return warehouse["mart_vehicle_features"], warehouse["mart_vehicle_events"]


@pytest.fixture(scope="module")
def spec(marts: tuple[pl.DataFrame, pl.DataFrame]) -> FeatureSpec:
    features, events = marts
    train = features.head(90)
    return fit_feature_spec(train, events.join(train.select("knr"), on="knr", how="semi"))


def test_a_loaded_spec_equals_the_fitted_one_and_builds_identical_arrays(
    marts: tuple[pl.DataFrame, pl.DataFrame], spec: FeatureSpec
) -> None:
    features, events = marts
    loaded = FeatureSpec.from_json(spec.to_json())
    assert loaded == spec
    knrs = features.get_column("knr").to_list()
    before = build_sequences(events, features, spec.sequence, knrs)
    after = build_sequences(events, features, loaded.sequence, knrs)
    for name in ("categorical", "numeric", "lengths", "static"):
        np.testing.assert_array_equal(getattr(after, name), getattr(before, name))
    table_before = build_tabular(features, events, spec.tabular)
    table_after = build_tabular(features, events, loaded.tabular)
    np.testing.assert_array_equal(table_after.features, table_before.features)
    assert table_after.feature_names == table_before.feature_names


def test_the_json_is_versioned_strict_json_with_the_fitted_contents(spec: FeatureSpec) -> None:
    document = json.loads(spec.to_json(), parse_constant=pytest.fail)
    assert document["format"] == FORMAT
    assert document["tabular"]["windows"]["name"] == list(spec.tabular.windows.names)
    assert document["sequence"]["config"]["granularity"] == "program_visit"


def test_another_format_is_refused_with_a_clear_message(spec: FeatureSpec) -> None:
    document = json.loads(spec.to_json())
    document["format"] = "roadtest.features/999"
    with pytest.raises(ValueError, match=r"format 'roadtest.features/999'.*retrain"):
        FeatureSpec.from_json(json.dumps(document))
    with pytest.raises(ValueError, match="not valid JSON"):
        FeatureSpec.from_json("{not json")


def test_a_truncated_spec_is_refused(spec: FeatureSpec) -> None:
    document = json.loads(spec.to_json())
    del document["sequence"]["vocabularies"]
    with pytest.raises(ValueError, match="incomplete or corrupt"):
        FeatureSpec.from_json(json.dumps(document))


def test_specs_fitted_on_different_vehicles_cannot_be_bundled(
    marts: tuple[pl.DataFrame, pl.DataFrame], spec: FeatureSpec
) -> None:
    features, events = marts
    other = fit_sequence_spec(events, features, SequenceConfig())
    with pytest.raises(ValueError, match="another tabular spec"):
        FeatureSpec(tabular=spec.tabular, sequence=other)
