"""Training runs on a small simulated plant, logged to a real MLflow store, with promotion."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from roadtest.cli import app
from roadtest.training.pipeline import (
    TrainResult,
    compare_versions,
    fingerprint,
    read_training_data,
    train,
)
from roadtest.training.scoring import load_version
from roadtest.warehouse.schema import ETL_RUN, MODEL_ACTIVATION
from tests.integration.test_training_pipeline_support import (
    FAST,
    fresh_home,
    open_home,
    trained_home,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainResult]:
    """The session's trained HOME: a GRU and the prior, with the oracle (read only here)."""
    trained = trained_home(tmp_path_factory.getbasetemp())
    return trained.home, trained.result


def test_each_epoch_is_reported_while_training(tmp_path_factory: pytest.TempPathFactory) -> None:
    trained = trained_home(tmp_path_factory.getbasetemp())
    gru = trained.result.models["gru"]
    assert gru.epochs is not None and gru.best_epoch is not None
    assert trained.epochs == tuple(("gru", e) for e in range(1, gru.epochs + 1))
    assert 1 <= gru.best_epoch <= gru.epochs


def test_the_first_run_registers_version_1_as_champion(
    first_run: tuple[Path, TrainResult],
) -> None:
    home, result = first_run
    warehouse, registry = open_home(home)
    try:
        activations = warehouse.read_table(MODEL_ACTIVATION.name)
    finally:
        warehouse.dispose()
    assert result.registered_version == "1"
    assert result.promoted
    assert result.decision.reason == "first model of the registry"
    champion = registry.get_champion()
    assert champion is not None and champion.version == "1"
    assert champion.tags["model_kind"] == result.best_model
    assert champion.tags["promotion"] == "champion"
    assert activations.select("model_name", "model_version").rows() == [("roadtest", "1")]
    assert activations["active_to"][0] is None


def test_the_registered_model_is_the_best_on_validation(
    first_run: tuple[Path, TrainResult],
) -> None:
    _, result = first_run
    best = max(result.models.values(), key=lambda r: r.valid.pr_auc)
    assert result.best_model == best.name


def test_the_run_records_lineage_counts_and_code_version(
    first_run: tuple[Path, TrainResult],
) -> None:
    home, result = first_run
    warehouse, registry = open_home(home)
    try:
        bronze = warehouse.read_etl_state()
        etl_run = warehouse.read_table(ETL_RUN.name)["run_id"][0]
        data = read_training_data(warehouse)
    finally:
        warehouse.dispose()
    params = registry.version_details("1").params
    assert set(bronze) == {"RESULTADOS", "FALHAS", "STATUS"}
    for table, version in bronze.items():
        assert params[f"lineage.bronze_version.{table}"] == str(version)
    assert params["lineage.etl_run_id"] == etl_run
    assert params["lineage.data_fingerprint"] == fingerprint(
        [data.labels, data.features, data.events]
    )
    assert re.fullmatch(r"git:[0-9a-f]{40}(-dirty)?|roadtest==.+", params["lineage.code_version"])
    assert params["data.labelled_vehicles"] == str(data.labels.height)
    assert params["data.event_rows"] == str(data.events.height)
    parts = ("train", "valid", "test")
    assert sum(int(params[f"data.{p}_vehicles"]) for p in parts) == data.labels.height
    assert params["models"] == "gru,prior"
    assert params["recurrent.hidden_size"] == "16"
    assert result.lineage["bronze_versions"] == bronze


def test_the_run_holds_report_spec_lineage_and_model_folder(
    first_run: tuple[Path, TrainResult],
) -> None:
    home, result = first_run
    _, registry = open_home(home)
    client = MlflowClient(registry.tracking_uri)
    listed = {
        folder: {Path(a.path).name for a in client.list_artifacts(result.run_id, folder)}
        for folder in ("report", "features", "lineage", "model")
    }
    assert {"report.md", "roc.png", "pr.png", "budget.png", "comparison.csv"} <= listed["report"]
    assert listed["features"] == {"feature_spec.json"}
    assert listed["lineage"] == {"lineage.json"}
    assert {"model.json", "feature_spec.json"} <= listed["model"]
    report = Path(client.download_artifacts(result.run_id, "report/report.md", str(home)))
    text = report.read_text(encoding="utf-8")
    assert "oracle" in text and "gru" in text and "prior" in text
    metrics = registry.version_details("1").metrics
    for name in ("gru", "prior", "oracle"):
        assert f"test/{name}/pr_auc" in metrics
    assert result.oracle is not None
    gru_gap = result.oracle.roc_auc - result.models["gru"].test.roc_auc
    assert metrics["gap/gru/roc_auc"] == pytest.approx(gru_gap)
    assert "epoch/gru/valid_pr_auc" in metrics


def test_the_gru_learns_the_planted_mechanisms(first_run: tuple[Path, TrainResult]) -> None:
    _, result = first_run
    oracle, gru, prior = result.oracle, result.models["gru"].test, result.models["prior"].test
    assert oracle is not None
    assert gru.n_vehicles == oracle.n_vehicles == prior.n_vehicles
    assert prior.roc_auc == pytest.approx(0.5)
    assert 0.6 < gru.roc_auc < oracle.roc_auc
    assert gru.pr_auc > 1.5 * gru.prevalence
    assert gru.recall_at_budget[0.2] > prior.recall_at_budget[0.2]


def test_the_summary_is_json_with_window_metrics_and_promotion(
    first_run: tuple[Path, TrainResult],
) -> None:
    _, result = first_run
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["run_id"] == result.run_id
    start, end = payload["test_window"]["start"], payload["test_window"]["end"]
    assert start < end
    assert payload["windows"]["valid"]["end"] < start
    assert set(payload["models"]) == {"gru", "prior"}
    for model in payload["models"].values():
        assert {"roc_auc", "pr_auc", "recall_at_20pct", "threshold"} <= set(model["test"])
    assert payload["oracle"]["n_vehicles"] == payload["counts"]["test_vehicles"]
    assert payload["registered_version"] == "1"
    assert payload["promoted"] is True
    assert payload["promotion_reason"] == "first model of the registry"


def test_the_champion_scores_like_the_model_it_was_trained_as(
    first_run: tuple[Path, TrainResult],
) -> None:
    home, result = first_run
    warehouse, registry = open_home(home)
    try:
        window, table = compare_versions(warehouse, registry, (), FAST)
    finally:
        warehouse.dispose()
    assert (window[0].isoformat(), window[1].isoformat()) == (
        result.to_dict()["test_window"]["start"],
        result.to_dict()["test_window"]["end"],
    )
    row = table.row(0, named=True)
    best = result.models[result.best_model].test
    assert row["version"] == "1" and row["champion"] is True
    assert row["roc_auc"] == pytest.approx(best.roc_auc, abs=1e-6)
    assert row["pr_auc"] == pytest.approx(best.pr_auc, abs=1e-6)
    model = load_version(registry, "1")
    assert model.threshold == pytest.approx(result.models[result.best_model].threshold)
    assert model.kind == result.best_model


def test_promotion_with_real_runs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No model, then a clearly better one, then a worse one: promoted, promoted, refused."""
    home = fresh_home(tmp_path_factory, "promotion")
    warehouse, registry = open_home(home)
    try:
        first = train(warehouse, registry, ("prior",), FAST)
        better = train(warehouse, registry, ("logreg",), FAST)
    finally:
        warehouse.dispose()
    assert (first.registered_version, first.promoted) == ("1", True)
    assert (better.registered_version, better.promoted) == ("2", True)
    assert better.previous_champion == "1"
    assert better.champion_on_test is not None
    assert better.champion_on_test.n_vehicles == better.models["logreg"].test.n_vehicles
    assert better.decision.reason.startswith("beats the champion")
    logreg = better.models["logreg"].test
    assert logreg.roc_auc > 0.65, "logistic regression should find the planted mechanisms"

    runner = CliRunner()
    env = {"ROADTEST_HOME": str(home)}
    outcome = runner.invoke(app, ["train", "--models", "prior", "--json"], env=env)
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.stdout)
    assert payload["registered_version"] == "3"
    assert payload["promoted"] is False
    assert "PR-AUC does not beat the champion" in payload["promotion_reason"]
    assert payload["oracle"] is not None

    warehouse, registry = open_home(home)
    try:
        activations = warehouse.read_table(MODEL_ACTIVATION.name).sort("active_from")
    finally:
        warehouse.dispose()
    refused = registry.version_info("3")
    assert refused.tags["promotion"] == "challenger"
    assert refused.tags["promotion_reason"] == payload["promotion_reason"]
    champion = registry.get_champion()
    assert champion is not None and champion.version == "2"
    assert activations.get_column("model_version").to_list() == ["1", "2"]
    assert activations["active_to"][0] == activations["active_from"][1]
    assert activations["active_to"][1] is None

    by_hand = runner.invoke(app, ["models", "promote", "3", "--json"], env=env)
    assert by_hand.exit_code == 0, by_hand.output
    assert json.loads(by_hand.stdout) == {"version": "3", "previous_champion": "2", "changed": True}
    listed = json.loads(runner.invoke(app, ["models", "list", "--json"], env=env).stdout)
    assert listed["champion"] == "3"
    assert [v["champion"] for v in listed["versions"]] == [False, False, True]
    assert "by hand" in listed["versions"][2]["tags"]["promotion_reason"]
    warehouse, _ = open_home(home)
    try:
        assert warehouse.active_model_version("roadtest") == "3"
        assert warehouse.count_rows(MODEL_ACTIVATION.name) == 3
    finally:
        warehouse.dispose()


def test_models_commands_show_and_compare_versions(first_run: tuple[Path, TrainResult]) -> None:
    home, result = first_run
    env = {"ROADTEST_HOME": str(home)}
    runner = CliRunner()
    shown = runner.invoke(app, ["models", "show", "1", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    details = json.loads(shown.stdout)
    assert details["run_id"] == result.run_id
    assert details["champion"] is True
    assert details["params"]["lineage.data_fingerprint"] == result.lineage["data_fingerprint"]
    compared = runner.invoke(app, ["models", "compare", "--json"], env=env)
    assert compared.exit_code == 0, compared.output
    rows = json.loads(compared.stdout)["versions"]
    assert [r["version"] for r in rows] == ["1"]
    missing = runner.invoke(app, ["models", "show", "9"], env=env)
    assert missing.exit_code == 2
    assert "no version '9'" in missing.output


def test_unknown_models_are_refused_before_any_work(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = fresh_home(tmp_path_factory, "unknown-model")
    warehouse, registry = open_home(home)
    try:
        with pytest.raises(ValueError, match="unknown model"):
            train(warehouse, registry, ("gru", "transformer"), FAST)
    finally:
        warehouse.dispose()
    assert registry.list_versions() == []
