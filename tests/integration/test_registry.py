"""The registry against the real MLflow on a sqlite file, and champion activations."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from roadtest.training.promotion import activate_version
from roadtest.training.registry import (
    CHAMPION_ALIAS,
    MODEL_CARD_FILE,
    Registry,
    RegistryError,
    RunRecord,
    StoredModel,
    read_model_folder,
    write_model_folder,
)
from roadtest.warehouse import Warehouse, connect
from roadtest.warehouse.schema import MODEL_ACTIVATION
from tests.integration.test_training_pipeline_support import empty_store

pytestmark = pytest.mark.slow


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Registry:
    """A registry on a private copy of an empty, migrated MLflow store."""
    store = tmp_path / "home" / "mlflow.db"
    store.parent.mkdir()
    shutil.copy(empty_store(tmp_path_factory.getbasetemp()), store)
    return Registry(f"sqlite:///{store}")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    wh = connect(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    wh.migrate()
    yield wh
    wh.dispose()


def stored(kind: str = "logreg", threshold: float = 0.25) -> StoredModel:
    return StoredModel(
        kind=kind,
        model_bytes=b"\x00model bytes\xff",
        feature_spec_json='{"format": "test"}',
        threshold=threshold,
        group_names=("rear", "doors"),
        metadata={"run_id": "r1"},
    )


def logged_model_run(registry: Registry, tmp_path: Path, name: str = "run") -> str:
    folder = write_model_folder(tmp_path / f"{name}-model", stored())
    return registry.log_run(
        RunRecord(
            name=name,
            params={"models": "logreg", "seed": 3, "empty": None},
            metrics={"test/logreg/pr_auc": 0.42, "test/logreg/roc_auc": float("nan")},
            tags={"purpose": "test"},
            artifacts={"model": folder},
        )
    )


def test_model_folder_round_trip(tmp_path: Path) -> None:
    for kind in ("gru", "logreg"):
        folder = write_model_folder(tmp_path / kind, stored(kind))
        assert read_model_folder(folder) == stored(kind)
    assert (tmp_path / "gru" / "model.onnx").is_file()
    assert (tmp_path / "logreg" / "baseline.pkl").is_file()


def test_a_folder_of_another_format_is_refused(tmp_path: Path) -> None:
    folder = write_model_folder(tmp_path / "m", stored())
    card = json.loads((folder / MODEL_CARD_FILE).read_text())
    (folder / MODEL_CARD_FILE).write_text(json.dumps({**card, "format": "other/9"}))
    with pytest.raises(RegistryError, match="other/9"):
        read_model_folder(folder)
    with pytest.raises(RegistryError, match="not a roadtest model folder"):
        read_model_folder(tmp_path / "missing")


def test_a_run_is_logged_registered_and_downloaded(registry: Registry, tmp_path: Path) -> None:
    assert registry.get_champion() is None
    run_id = logged_model_run(registry, tmp_path)
    version = registry.register_version(run_id, tags={"model_kind": "logreg"})
    assert version.version == "1"
    assert version.run_id == run_id
    assert version.tags["model_kind"] == "logreg"
    assert not version.is_champion

    details = registry.version_details("1")
    assert details.params == {"models": "logreg", "seed": "3", "empty": ""}
    assert details.metrics["test/logreg/pr_auc"] == pytest.approx(0.42)
    assert math.isnan(details.metrics["test/logreg/roc_auc"])
    assert details.run_tags == {"purpose": "test"}
    assert details.to_dict()["metrics"]["test/logreg/roc_auc"] is None

    folder = registry.download_version("1", tmp_path / "download")
    assert read_model_folder(folder) == stored()


def test_artifacts_of_a_sqlite_store_live_next_to_it(registry: Registry, tmp_path: Path) -> None:
    logged_model_run(registry, tmp_path)
    assert list((tmp_path / "home" / "mlartifacts").glob("*/artifacts/model/model.json"))


def test_champion_alias_moves_and_versions_list_in_order(
    registry: Registry, tmp_path: Path
) -> None:
    run_id = logged_model_run(registry, tmp_path)
    for _ in range(3):
        registry.register_version(run_id)
    registry.set_champion("2")
    registry.set_version_tags("3", {"promotion": "challenger", "promotion_reason": "worse"})
    versions = registry.list_versions()
    assert [v.version for v in versions] == ["1", "2", "3"]
    assert [v.is_champion for v in versions] == [False, True, False]
    assert versions[2].tags["promotion_reason"] == "worse"
    champion = registry.get_champion()
    assert champion is not None and champion.version == "2"
    assert champion.aliases == (CHAMPION_ALIAS,)
    registry.clear_champion()
    assert registry.get_champion() is None


def test_unknown_versions_are_named_in_the_error(registry: Registry, tmp_path: Path) -> None:
    registry.register_version(logged_model_run(registry, tmp_path))
    with pytest.raises(RegistryError, match=r"no version '7'; versions: \['1'\]"):
        registry.version_info("7")
    with pytest.raises(RegistryError, match="no version"):
        registry.set_champion("7")


def test_a_failing_run_is_recorded_as_failed(registry: Registry) -> None:
    with pytest.raises(RuntimeError, match="boom"), registry.open_run("broken") as run:
        run.log_params({"a": 1})
        raise RuntimeError("boom")
    stored_run = MlflowClient(registry.tracking_uri).get_run(run.run_id)
    assert stored_run.info.status == "FAILED"


def test_every_change_of_champion_is_an_activation_row(
    registry: Registry, warehouse: Warehouse, tmp_path: Path
) -> None:
    run_id = logged_model_run(registry, tmp_path)
    for _ in range(2):
        registry.register_version(run_id)
    assert activate_version(registry, warehouse, "1") is None
    assert activate_version(registry, warehouse, "2") == "1"
    assert activate_version(registry, warehouse, "2") == "2"
    rows = warehouse.read_table(MODEL_ACTIVATION.name).sort("active_from")
    assert rows.get_column("model_version").to_list() == ["1", "2"]
    assert rows.get_column("model_name").unique().to_list() == ["roadtest"]
    assert rows["active_to"][0] == rows["active_from"][1]
    assert rows["active_to"][1] is None
    assert warehouse.active_model_version("roadtest") == "2"


def test_a_promotion_that_cannot_be_recorded_is_undone(registry: Registry, tmp_path: Path) -> None:
    run_id = logged_model_run(registry, tmp_path)
    for _ in range(2):
        registry.register_version(run_id)
    registry.set_champion("1")
    unmigrated = connect(f"duckdb:///{tmp_path / 'empty.duckdb'}")
    try:
        with pytest.raises(Exception, match="model_activation"):
            activate_version(registry, unmigrated, "2")
    finally:
        unmigrated.dispose()
    champion = registry.get_champion()
    assert champion is not None and champion.version == "1"


def test_oversized_parameters_are_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="log it as an artifact"), registry.open_run("big") as run:
        run.log_params({"huge": "x" * 7000})
