"""The feature plans give the same result with and without Polars' optimiser.

``collect_plan`` skips the optimiser for small inputs (one vehicle scored by the
API) and uses it for large ones (training); a vehicle's features must not depend
on which vehicles it was built with.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from roadtest.features import build_sequences, build_tabular, fit_feature_spec, plans
from roadtest.simulate import SimulatedPlant
from tests.unit.test_features_factories import ingest_like_files


@pytest.fixture(scope="module")
def marts(small_plant: SimulatedPlant) -> dict[str, pl.DataFrame]:
    return ingest_like_files(small_plant)


def build_all(marts: dict[str, pl.DataFrame]) -> list[np.ndarray]:
    """Spec fitted and every vehicle's table and sequence built, as arrays."""
    features, events = marts["mart_vehicle_features"], marts["mart_vehicle_events"]
    spec = fit_feature_spec(features, events)
    knrs = features.get_column("knr").to_list()
    table = build_tabular(features, events, spec.tabular)
    sequences = build_sequences(events, features, spec.sequence, knrs)
    one = build_sequences(events, features, spec.sequence, knrs[:1])
    return [
        table.features,
        sequences.categorical,
        sequences.numeric,
        sequences.static,
        one.numeric[0, : one.lengths[0]],
        sequences.numeric[0, : sequences.lengths[0]],
    ]


def test_optimised_and_unoptimised_plans_build_identical_features(
    marts: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert marts["mart_vehicle_events"].height > 1
    monkeypatch.setattr(plans, "SMALL_INPUT_ROWS", 0)
    optimised = build_all(marts)
    monkeypatch.setattr(plans, "SMALL_INPUT_ROWS", 10**12)
    unoptimised = build_all(marts)
    for left, right in zip(optimised, unoptimised, strict=True):
        np.testing.assert_array_equal(left, right)
    np.testing.assert_array_equal(optimised[4], optimised[5])
