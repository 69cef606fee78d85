"""A small simulated plant in a warehouse, MLflow stores and one trained HOME, for the tests.

Building them (simulate, ingest, ETL, MLflow's schema migrations, a GRU run)
takes most of the time of these tests, so each is built once per session:
``pristine_home`` (plant loaded, registry empty), which a test copies
(``fresh_home``) before changing it, and ``trained_home`` (one run of a GRU and
the prior, the GRU registered as champion), which tests only read from, apart
from the predictions ``roadtest predict`` adds. No tests here.

The plant has every NOK program reworked after its zone and the battery-voltage
mechanism active from the start: two of the simulator's planted mechanisms,
made strong enough that a model trained on ~1,500 vehicles must find them.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from roadtest.config import Settings
from roadtest.etl.jobs import run_etl
from roadtest.lake import Lake, ingest_paths
from roadtest.models.recurrent import RecurrentConfig
from roadtest.simulate import PlantConfig, simulate_plant, write_exports
from roadtest.training.pipeline import TrainConfig, TrainResult, train
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse, connect

PLANT = PlantConfig(vehicles=3000, seed=5, rows_per_vehicle=50, late_rework_share=1.0, drift_at=0.0)

FAST = TrainConfig(
    recurrent=RecurrentConfig(
        hidden_size=16,
        embedding_dim=8,
        static_size=16,
        head_size=16,
        max_epochs=3,
        patience=2,
    ),
    valid_fraction=0.2,
    test_fraction=0.3,
)
"""Small networks and few epochs; a wide test window so its metrics are not noise."""


def settings_for(home: Path) -> Settings:
    """Settings with every embedded default under ``home`` (nothing from the environment)."""
    return Settings(home=home, lake_uri=None, warehouse_url=None, mlflow_tracking_uri=None)


@functools.cache
def empty_store(root: Path) -> Path:
    """A migrated, empty MLflow sqlite file (MLflow's migrations take seconds: made once)."""
    path = root / "mlflow-template" / "mlflow.db"
    path.parent.mkdir(parents=True)
    assert Registry(f"sqlite:///{path}").list_versions() == []
    return path


def load_plant_home(home: Path, plant: PlantConfig, store_root: Path, export_seed: int) -> Path:
    """``home`` made with ``plant``'s exports, truth, lake, loaded warehouse and an empty
    MLflow store (the one of ``store_root``)."""
    settings = settings_for(home)
    home.mkdir(parents=True)
    shutil.copy(empty_store(store_root), home / "mlflow.db")
    write_exports(
        simulate_plant(plant), home / "exports", "parquet", home / "truth", seed=export_seed
    )
    lake = Lake.from_settings(settings)
    assert ingest_paths(lake, [home / "exports"]).ok
    warehouse = connect(settings.resolved_warehouse_url())
    try:
        assert run_etl(lake, warehouse).ok
    finally:
        warehouse.dispose()
    return home


@functools.cache
def pristine_home(root: Path) -> Path:
    """HOME with the plant's exports, truth, lake, loaded warehouse and an empty MLflow store."""
    return load_plant_home(root / "pristine", PLANT, root, PLANT.seed)


@dataclass(frozen=True)
class TrainedHome:
    """A HOME after one training run, the run's result and the epochs reported while it ran."""

    home: Path
    result: TrainResult
    epochs: tuple[tuple[str, int], ...]


@functools.cache
def trained_home(root: Path) -> TrainedHome:
    """A copy of the pristine HOME after one run of a GRU and the prior, with the oracle."""
    home = root / "trained" / "home"
    shutil.copytree(pristine_home(root), home)
    warehouse, registry = open_home(home)
    epochs: list[tuple[str, int]] = []
    try:
        result = train(
            warehouse,
            registry,
            ("gru", "prior"),
            FAST,
            truth=pl.read_parquet(home / "truth" / "truth.parquet"),
            on_epoch=lambda model, log: epochs.append((model, log.epoch)),
        )
    finally:
        warehouse.dispose()
    return TrainedHome(home, result, tuple(epochs))


def fresh_home(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A private copy of the pristine HOME that a test may change."""
    pristine = pristine_home(tmp_path_factory.getbasetemp())
    home = tmp_path_factory.mktemp(name) / "home"
    shutil.copytree(pristine, home)
    return home


def open_home(home: Path) -> tuple[Warehouse, Registry]:
    """The warehouse and registry of ``home``."""
    settings = settings_for(home)
    return Warehouse.from_settings(settings), Registry.from_settings(settings)
