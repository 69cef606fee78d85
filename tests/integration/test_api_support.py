"""A trained plant for the API tests, built once per session (no tests here).

``trained_plant`` simulates the session's small plant into exports, ingests
them into a lake, runs the ETL and trains a small GRU (exported to ONNX) that
becomes the champion, all under one folder used as ``ROADTEST_HOME``. Tests
that change the registry or the warehouse work on a copy (``copy_home``), so
no test depends on another's order. The build is memoised at module level
because the e2e modules import this fixture too.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl
import pytest

from roadtest.config import Settings
from roadtest.etl.jobs import run_etl
from roadtest.lake import Lake, ingest_paths
from roadtest.models.recurrent import RecurrentConfig
from roadtest.serving.keys import hash_api_key
from roadtest.simulate import SimulatedPlant, write_exports
from roadtest.training.pipeline import TrainConfig, train
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse

WRITE_KEY: Final = "test-write-key-5b0e3c1d9f"
READ_KEY: Final = "test-read-key-71c2aa04e8"

SMALL_GRU: Final = RecurrentConfig(
    hidden_size=16, embedding_dim=8, static_size=16, head_size=16, max_epochs=2, patience=1
)


@dataclass(frozen=True)
class TrainedPlant:
    """A plant's data platform after ingest, ETL and one training run."""

    home: Path
    plant: SimulatedPlant
    version: str
    knrs: tuple[str, ...]
    """Every vehicle of the feature mart."""


def api_settings(home: Path, **overrides: Any) -> Settings:
    """Settings of an API over ``home``, with one write and one read key."""
    values: dict[str, Any] = {
        "home": home,
        "api_key_hashes": [hash_api_key(WRITE_KEY)],
        "api_read_key_hashes": [hash_api_key(READ_KEY)],
        "api_model_poll_seconds": 3600.0,
        **overrides,
    }
    return Settings(**values)


def copy_home(plant: TrainedPlant, target: Path) -> Path:
    """A private copy of the trained home (lake, warehouse, registry) at ``target``."""
    shutil.copytree(plant.home, target, ignore=shutil.ignore_patterns("exports", "truth"))
    return target


def build_trained_plant(plant: SimulatedPlant, root: Path) -> TrainedPlant:
    """Exports → lake → warehouse → a small GRU champion, under ``root / 'home'``."""
    home = root / "home"
    settings = Settings(home=home)
    write_exports(plant, root / "exports", "parquet", root / "truth", seed=0)
    lake = Lake.from_settings(settings)
    warehouse = Warehouse.from_settings(settings)
    ingest_paths(lake, [root / "exports"])
    run_etl(lake, warehouse)
    config = TrainConfig(recurrent=SMALL_GRU)
    result = train(warehouse, Registry.from_settings(settings), ["gru"], config)
    knrs = warehouse.read_table("mart_vehicle_features", columns=["knr"])["knr"].to_list()
    warehouse.dispose()
    return TrainedPlant(home, plant, result.registered_version, tuple(knrs))


_BUILT: dict[str, TrainedPlant] = {}


@pytest.fixture(scope="session", name="trained_plant")
def trained_plant_fixture(
    small_plant: SimulatedPlant, tmp_path_factory: pytest.TempPathFactory
) -> TrainedPlant:
    """The small plant, ingested, loaded and with a trained GRU champion (read-only)."""
    if "small" not in _BUILT:
        _BUILT["small"] = build_trained_plant(small_plant, tmp_path_factory.mktemp("api_plant"))
    return _BUILT["small"]


def _cells(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON cells: timestamps as export text, everything else as it is."""
    text = frame.with_columns(
        pl.col(pl.Datetime).dt.to_string("%Y-%m-%d %H:%M:%S%.f"),
    )
    return text.to_dicts()


def vehicle_rows(plant: SimulatedPlant, knr: str) -> dict[str, list[dict[str, Any]]]:
    """Every export row of one vehicle, as the ``rows`` of a prediction request."""

    def of(frame: pl.DataFrame) -> list[dict[str, Any]]:
        return _cells(frame.filter(pl.col("KNR").str.strip_chars() == knr))

    return {
        "RESULTADOS": of(plant.resultados),
        "STATUS": of(plant.status),
        "FALHAS": of(plant.falhas),
    }
