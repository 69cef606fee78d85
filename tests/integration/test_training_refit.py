"""Baselines refitted on training + validation learn a failure cause that appeared lately."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from roadtest.simulate import PlantConfig
from roadtest.training.pipeline import TrainResult, read_training_data, train
from roadtest.training.scoring import load_version
from roadtest.training.split import time_split
from tests.integration.test_training_pipeline_support import (
    FAST,
    load_plant_home,
    open_home,
)

pytestmark = pytest.mark.slow

DRIFTING = PlantConfig(vehicles=2500, seed=11, rows_per_vehicle=50, drift_at=0.6)
"""The battery mechanism switches on after the training window (FAST trains on the oldest half)."""

BATTERY = "low_battery_voltage"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME with the drifting plant loaded and an empty registry."""
    root = tmp_path_factory.mktemp("refit")
    return load_plant_home(root / "home", DRIFTING, tmp_path_factory.getbasetemp(), export_seed=3)


def train_gbm(home: Path, refit: bool) -> TrainResult:
    warehouse, registry = open_home(home)
    try:
        return train(warehouse, registry, ("gbm",), replace(FAST, refit_baselines=refit))
    finally:
        warehouse.dispose()


def battery_risk_on_test(home: Path, version: str) -> tuple[float, float]:
    """Mean risk the version gives the test window's cars with and without a low battery."""
    warehouse, registry = open_home(home)
    try:
        data = read_training_data(warehouse)
        test = list(time_split(data.labels, FAST.valid_fraction, FAST.test_fraction).test_knrs)
        order = pl.DataFrame({"knr": test})
        features = order.join(data.features, on="knr", how="left", maintain_order="left")
        events = data.events.join(order, on="knr", how="semi")
        risk = load_version(registry, version).score(features, events)[0]
    finally:
        warehouse.dispose()
    truth = pl.read_parquet(home / "truth" / "truth.parquet").rename({"KNR": "knr"})
    factors = order.join(truth, on="knr", how="left", maintain_order="left")
    battery = factors.get_column("risk_factors").list.contains(BATTERY).to_numpy()
    assert battery.sum() >= 20, "the test window needs cars with a low battery"
    return float(np.mean(risk[battery])), float(np.mean(risk[~battery]))


def test_the_refit_learns_the_late_cause_and_keeps_validation_out_of_sample(home: Path) -> None:
    alone = train_gbm(home, refit=False)
    refit = train_gbm(home, refit=True)
    before, after = alone.models["gbm"], refit.models["gbm"]
    # validation metrics and the threshold come from the same training-only fit
    assert after.valid.pr_auc == pytest.approx(before.valid.pr_auc)
    assert after.threshold == pytest.approx(before.threshold)
    assert after.test.pr_auc != pytest.approx(before.test.pr_auc)

    battery_alone, others_alone = battery_risk_on_test(home, alone.registered_version)
    battery_refit, others_refit = battery_risk_on_test(home, refit.registered_version)
    # only the refit saw cars failing of a low battery: it ranks them higher than the rest
    assert battery_refit / others_refit > battery_alone / others_alone
    assert battery_refit > others_refit
