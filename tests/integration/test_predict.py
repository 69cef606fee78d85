"""`roadtest predict`: the champion scores warehouse vehicles through the serving path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from roadtest.cli import app
from roadtest.training.pipeline import GROUP_NAMES
from roadtest.training.registry import Registry
from roadtest.training.scoring import load_champion
from tests.integration.test_training_pipeline_support import (
    fresh_home,
    open_home,
    settings_for,
    trained_home,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gru_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's trained HOME, whose champion is a GRU (scored through ONNX Runtime)."""
    trained = trained_home(tmp_path_factory.getbasetemp())
    champion = Registry.from_settings(settings_for(trained.home)).get_champion()
    assert champion is not None and champion.tags["model_kind"] == "gru"
    return trained.home


def run_cli(home: Path, *args: str) -> tuple[int, str, str]:
    outcome = CliRunner().invoke(app, list(args), env={"ROADTEST_HOME": str(home)})
    return outcome.exit_code, outcome.stdout, outcome.output


def stored_predictions(home: Path) -> pl.DataFrame:
    warehouse, _ = open_home(home)
    try:
        return warehouse.read_predictions()
    finally:
        warehouse.dispose()


def test_predict_all_writes_the_file_and_the_predictions_table(
    gru_home: Path, tmp_path: Path
) -> None:
    before = stored_predictions(gru_home).height
    out = tmp_path / "predictions.csv"
    code, stdout, output = run_cli(gru_home, "predict", "--all", "--out", str(out), "--json")
    assert code == 0, output
    summary = json.loads(stdout)
    written = pl.read_csv(out, schema_overrides={"knr": pl.String, "model_version": pl.String})
    assert summary["vehicles"] == written.height
    assert summary["model_version"] == "1" and summary["model_kind"] == "gru"
    assert summary["flagged"] == written.get_column("decision").sum()
    assert {"knr", "probability", "decision", "group_1", "p_group_1", "model_version"} <= set(
        written.columns
    )
    assert written.get_column("model_version").unique().to_list() == ["1"]

    warehouse, _ = open_home(gru_home)
    try:
        features = warehouse.read_features()
        events = warehouse.read_events()
        rows = warehouse.read_predictions()
    finally:
        warehouse.dispose()
    assert written.height == features.height
    assert rows.height - before == written.height
    model = load_champion(settings_for(gru_home))
    expected, _ = model.score(features, events)
    by_knr = features.select("knr").with_columns(expected=pl.Series(expected))
    compared = by_knr.join(written.select("knr", "probability"), on="knr")
    assert compared.height == written.height
    np.testing.assert_allclose(compared["probability"], compared["expected"], rtol=1e-5)
    stored = rows.join(by_knr, on="knr").filter(
        pl.col("predicted_at") == rows["predicted_at"].max()
    )
    np.testing.assert_allclose(stored["probability"], stored["expected"], rtol=1e-5)
    assert stored["decision"].to_list() == (stored["probability"] >= model.threshold).to_list()


def test_predict_named_vehicles_as_parquet_with_ranked_groups(
    gru_home: Path, tmp_path: Path
) -> None:
    warehouse, _ = open_home(gru_home)
    try:
        knrs = warehouse.read_features().get_column("knr").head(3).to_list()
    finally:
        warehouse.dispose()
    out = tmp_path / "three.parquet"
    args = ["predict", "--out", str(out)]
    for knr in knrs:
        args += ["--knr", knr]
    code, _, output = run_cli(gru_home, *args)
    assert code == 0, output
    written = pl.read_parquet(out)
    assert written.get_column("knr").to_list() == knrs
    assert set(written.get_column("group_1")) <= set(GROUP_NAMES)
    ranked = written.select("p_group_1", "p_group_2", "p_group_3").to_numpy()
    assert (np.diff(ranked, axis=1) <= 0).all()
    assert written.get_column("probability").is_between(0.0, 1.0).all()


def test_predict_refuses_bad_requests_and_stores_nothing(gru_home: Path, tmp_path: Path) -> None:
    before = stored_predictions(gru_home).height
    out = str(tmp_path / "p.csv")
    code, _, output = run_cli(gru_home, "predict", "--knr", "2099-0000001", "--out", out)
    assert code == 2
    assert "no data in the warehouse: 2099-0000001" in output
    code, _, output = run_cli(gru_home, "predict", "--out", out)
    assert code == 2 and "--all" in output
    code, _, output = run_cli(gru_home, "predict", "--all", "--out", str(tmp_path / "p.xlsx"))
    assert code == 2 and ".parquet" in output
    assert stored_predictions(gru_home).height == before
    assert not (tmp_path / "p.csv").exists()


def test_predict_without_a_champion_says_how_to_get_one(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    home = fresh_home(tmp_path_factory, "no-champion")
    code, _, output = run_cli(home, "predict", "--all", "--out", str(tmp_path / "p.csv"))
    assert code == 1
    assert "no champion yet" in output


def test_predict_pending_scores_only_vehicles_not_yet_road_tested(
    gru_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pending.csv"
    code, _, output = run_cli(gru_home, "predict", "--pending", "--out", str(out))
    assert code == 0, output
    warehouse, _ = open_home(gru_home)
    try:
        pending = warehouse.read_features().filter(~pl.col("labelled"))
    finally:
        warehouse.dispose()
    assert pending.height > 0
    written = pl.read_csv(out, schema_overrides={"knr": pl.String})
    assert sorted(written.get_column("knr").to_list()) == sorted(pending.get_column("knr"))


def test_scoring_path_imports_no_torch() -> None:
    script = (
        "import sys; import roadtest.training.scoring; sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == 0
