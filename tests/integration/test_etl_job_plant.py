"""The ETL on a simulated plant, ingested from its exports like real files, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roadtest.contracts.warehouse import TRANSFORM_TABLES
from roadtest.etl.jobs import run_etl
from roadtest.lake import Lake, ingest_paths
from roadtest.simulate import ExportFormat, SimulatedPlant
from roadtest.warehouse import connect


@pytest.mark.slow
@pytest.mark.postgres
def test_a_simulated_plant_loads_identically_on_duckdb_and_postgres(
    small_plant: SimulatedPlant,
    plant_exports: Callable[[ExportFormat], Path],
    tmp_path: Path,
    postgres_url: str,
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    assert ingest_paths(lake, [plant_exports("parquet")]).ok
    loaded: list[dict[str, pl.DataFrame]] = []
    for url in (f"duckdb:///{tmp_path / 'warehouse.duckdb'}", postgres_url):
        warehouse = connect(url)
        try:
            summary = run_etl(lake, warehouse)
            assert summary.outcome == "loaded", summary.message
            assert [c.name for c in summary.checks if c.severity == "hard" and not c.passed] == []
            loaded.append({spec.name: warehouse.read_table(spec.name) for spec in TRANSFORM_TABLES})
        finally:
            warehouse.dispose()

    duck, postgres = loaded
    for name, frame in duck.items():
        assert_frame_equal(postgres[name], frame, check_exact=True)
    truth = small_plant.truth
    assert duck["dim_vehicle"].height == truth.height
    reached = set(truth.filter("reaches_road_test")["KNR"])
    failed = set(truth.filter(pl.col("reaches_road_test") & pl.col("failed"))["KNR"])
    labels = duck["vehicle_label"]
    assert set(labels["knr"]) == reached
    assert set(labels.filter("road_test_failed")["knr"]) == failed
