"""The dashboard's pure data functions, its texts, and its promise not to import torch.

These run without Streamlit or any store: small frames in, numbers out.
"""

from __future__ import annotations

import ast
import math
import random
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import get_args

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from roadtest.dashboard import data
from roadtest.dashboard.i18n import (
    CHECKS_PT,
    GROUP_NAMES,
    LANGUAGES,
    TEXTS,
    checks_in,
    fmt_float,
    fmt_int,
    fmt_pct,
    fmt_time,
    group_name,
    translate,
)
from roadtest.monitor import drift
from roadtest.monitor.health import HEALTH_COLUMNS
from roadtest.serving.checks import GROUP_CHECKS
from roadtest.serving.schemas import TrainingRun

DASHBOARD = Path(data.__file__).parent


# --- planning -----------------------------------------------------------------------------


def test_inspected_count_takes_the_floor_but_at_least_one_car() -> None:
    assert data.inspected_count(10, 0.2) == 2
    assert data.inspected_count(11, 0.2) == 2
    assert data.inspected_count(4, 0.2) == 1
    assert data.inspected_count(7, 1.0) == 7
    assert data.inspected_count(0, 0.5) == 0


@pytest.mark.parametrize("budget", [0.0, -0.1, 1.5])
def test_inspected_count_refuses_a_budget_outside_0_1(budget: float) -> None:
    with pytest.raises(ValueError, match="inspection budget"):
        data.inspected_count(10, budget)


def test_expected_share_caught_is_top_k_over_all_probabilities() -> None:
    p = [0.1, 0.5, 0.1, 0.3]
    assert data.expected_share_caught(p, 0.5) == pytest.approx(0.8)
    assert data.expected_share_caught(p, 0.2) == pytest.approx(0.5)
    assert data.expected_share_caught(p, 1.0) == pytest.approx(1.0)


def test_expected_share_caught_is_nan_without_expected_failures() -> None:
    assert math.isnan(data.expected_share_caught([], 0.2))
    assert math.isnan(data.expected_share_caught([0.0, 0.0], 0.2))


def test_expected_capture_curve_rises_to_one() -> None:
    curve = data.expected_capture_curve([0.4, 0.3, 0.2, 0.1], points=11)
    shares = curve["share"].to_list()
    assert shares == sorted(shares)
    assert shares[-1] == pytest.approx(1.0)


def _scored(n: int = 10, seed: int = 3) -> pl.DataFrame:
    rng = random.Random(seed)
    return pl.DataFrame(
        {
            "knr": [f"2024-{i:07d}" for i in range(n)],
            "probability": [round(rng.random() * 0.3, 3) for _ in range(n)],
            "group_1": ["back-office test"] * n,
            "group_2": ["doors"] * n,
            "group_3": ["rear"] * n,
        }
    )


def test_plan_marks_the_riskiest_cars_for_the_full_test() -> None:
    scored = _scored()
    plan = data.plan_inspections(scored, 0.3)
    assert plan["rank"].to_list() == list(range(1, 11))
    assert plan["probability"].to_list() == sorted(scored["probability"], reverse=True)
    assert plan["full_test"].to_list() == [True] * 3 + [False] * 7
    assert plan["expected_share_caught"][-1] == pytest.approx(1.0)
    top3 = sum(sorted(scored["probability"], reverse=True)[:3]) / scored["probability"].sum()
    assert plan["expected_share_caught"][2] == pytest.approx(top3)


def test_plan_does_not_depend_on_row_order_even_with_ties() -> None:
    scored = pl.DataFrame(
        {"knr": ["2024-0000003", "2024-0000001", "2024-0000002"], "probability": [0.2, 0.2, 0.1]}
    )
    first = data.plan_inspections(scored, 0.34)
    second = data.plan_inspections(scored.reverse(), 0.34)
    assert first.equals(second)
    assert first.filter(pl.col("full_test"))["knr"].to_list() == ["2024-0000001"]


def test_plan_summary_counts_and_sums() -> None:
    plan = data.plan_inspections(_scored(), 0.2)
    summary = data.summarise_plan(plan, 0.2)
    probabilities = sorted(_scored()["probability"].to_list(), reverse=True)
    assert (summary.awaiting, summary.full_test) == (10, 2)
    assert summary.expected_failures == pytest.approx(sum(probabilities))
    assert summary.expected_caught == pytest.approx(sum(probabilities[:2]))
    assert summary.expected_share == pytest.approx(sum(probabilities[:2]) / sum(probabilities))


def test_groups_to_check_names_the_two_likeliest_groups_as_slugs() -> None:
    plan = data.groups_to_check(data.plan_inspections(_scored(2), 0.5))
    assert plan["check_groups"].to_list() == [["back_office_test", "doors"]] * 2


def test_plan_csv_opens_with_a_bom_and_flattens_lists() -> None:
    table = pl.DataFrame({"KNR": ["2024-0000001"], "Verificar": [["a", "b"]], "Risco": [0.25]})
    content = data.plan_csv(table)
    assert content.startswith("\ufeff".encode())
    assert content.decode("utf-8-sig").splitlines() == [
        "KNR,Verificar,Risco",
        "2024-0000001,a | b,0.25",
    ]


def test_awaiting_vehicles_are_the_unlabelled_ones() -> None:
    features = pl.DataFrame({"knr": ["a", "b", "c"], "labelled": [True, False, False]})
    assert data.awaiting_vehicles(features)["knr"].to_list() == ["b", "c"]


# --- vehicle ----------------------------------------------------------------------------------

T0 = datetime(2024, 1, 2, 8, 0)


def test_vehicle_timeline_highlights_nok_rework_and_road_test_defects() -> None:
    passages = pl.DataFrame(
        {"data": [T0], "status_code": ["R750"], "zone": ["ZP5"]},
        schema={"data": pl.Datetime("us"), "status_code": pl.String, "zone": pl.String},
    )
    results = pl.DataFrame(
        {
            "data": [T0 + timedelta(minutes=m) for m in (1, 2, 3)],
            "name": ["012001", "012001", "730100"],
            "value_id": ["1", "1", ""],
            "is_nok": [True, False, False],
            "is_rework": [False, True, False],
        }
    )
    defects = pl.DataFrame(
        {
            "data": [T0 + timedelta(hours=h) for h in (1, 2, 3)],
            "halle": ["ZP6", "ROD", "AGUA"],
            "falha": ["PORTA 01. RISCO", "PORTA 02. FOLGA", "TETO 01. UMIDADE"],
            "is_road_test_defect": [False, True, False],
            "before_road_test": [True, False, False],
        }
    )
    timeline = data.vehicle_timeline(passages, results, defects)
    assert timeline["kind"].to_list() == [
        "passage",
        "nok",
        "rework",
        "ok",
        "earlier",
        "road_test",
        "later",
    ]
    assert timeline["data"].is_sorted()
    highlights = data.result_highlights(results)
    assert highlights["is_nok"].to_list() == [True, False]


def _label(failed: bool, groups: str, unknown: bool = False) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "knr": ["2024-0000001"],
            "road_test_failed": [failed],
            "failure_groups": [groups],
            "fails_unknown": [unknown],
            "n_rod_defects": [2 if failed else 0],
            "road_test_start_at": [T0],
        }
    )


def test_vehicle_outcome_names_the_failure_groups() -> None:
    outcome = data.vehicle_outcome(_label(True, "4,9830946"))
    assert outcome is not None
    assert outcome.failed and outcome.groups == ("doors", "electrical") and outcome.rod_defects == 2
    assert data.vehicle_outcome(_label(True, "", unknown=True)).groups == ("unknown",)  # type: ignore[union-attr]
    assert data.vehicle_outcome(_label(False, "")).failed is False  # type: ignore[union-attr]
    assert data.vehicle_outcome(_label(False, "").clear()) is None


# --- quality ----------------------------------------------------------------------------------


def _labels() -> pl.DataFrame:
    starts = [datetime(2024, 1, 1 + d, 10) for d in (0, 1, 2, 8, 9, 10)]
    return pl.DataFrame(
        {
            "knr": [f"k{i}" for i in range(6)],
            "road_test_failed": [True, False, False, True, True, False],
            "road_test_start_at": starts,
            **{f"fails_{g}": [False] * 6 for g in data.GROUP_SLUGS},
        }
    ).with_columns(
        fails_doors=pl.Series([True, False, False, True, False, False]),
        fails_electrical=pl.Series([False, False, False, True, True, False]),
    )


def test_failure_rate_over_time_groups_by_week() -> None:
    rates = data.failure_rate_over_time(_labels(), "1w")
    assert rates["period"].to_list() == [datetime(2024, 1, 1), datetime(2024, 1, 8)]
    assert rates["vehicles"].to_list() == [3, 3]
    assert rates["failure_rate"].to_list() == pytest.approx([1 / 3, 2 / 3])


def test_failure_rate_by_group_shares() -> None:
    table = data.failure_rate_by_group(_labels())
    doors = table.filter(pl.col("group") == "doors").row(0, named=True)
    assert doors["failed"] == 2
    assert doors["share_of_vehicles"] == pytest.approx(2 / 6)
    assert doors["share_of_failures"] == pytest.approx(2 / 3)
    assert table["group"][0] in ("doors", "electrical")


def test_failure_rate_by_attribute_joins_the_vehicle_dimension() -> None:
    vehicles = pl.DataFrame(
        {"knr": [f"k{i}" for i in range(6)], "motor": ["DHS", "DHS", "CWL", "CWL", "CWL", None]}
    )
    table = data.failure_rate_by_attribute(_labels(), vehicles, "motor")
    rates = dict(zip(table["motor"].to_list(), table["failure_rate"].to_list(), strict=True))
    assert rates == {"CWL": pytest.approx(2 / 3), "DHS": 0.5, None: 0.0}


def test_failure_association_computes_lift_and_drops_rare_keys() -> None:
    flags = pl.DataFrame({"knr": ["k0", "k3", "k4", "k3", "k1"], "name": ["A", "A", "A", "A", "B"]})
    table = data.failure_association(flags, _labels(), "name", min_vehicles=2)
    assert table["name"].to_list() == ["A"]
    row = table.row(0, named=True)
    assert (row["vehicles"], row["failed"]) == (3, 3)
    assert row["lift"] == pytest.approx(1.0 / 0.5)


def test_defect_pareto_is_sorted_with_cumulative_share() -> None:
    defects = pl.DataFrame({"falha": ["A", "B", "A", "C", "A", "B"]})
    table = data.defect_pareto(defects, top=2)
    assert table["falha"].to_list() == ["A", "B"]
    assert table["count"].to_list() == [3, 2]
    assert table["cumulative_share"].to_list() == pytest.approx([0.5, 5 / 6])


def test_result_rates_by_program() -> None:
    results = pl.DataFrame(
        {
            "knr": ["a", "a", "b", "b"],
            "name": ["P1", "P1", "P1", "P2"],
            "is_nok": [True, False, False, False],
            "is_rework": [False, True, False, False],
        }
    )
    table = data.result_rates_by(results, "name")
    p1 = table.filter(pl.col("name") == "P1").row(0, named=True)
    assert (p1["results"], p1["vehicles"], p1["nok"], p1["rework"]) == (3, 2, 1, 1)
    assert p1["nok_rate"] == pytest.approx(1 / 3)


def test_defect_scopes() -> None:
    defects = pl.DataFrame(
        {"is_road_test_defect": [True, False, False], "before_road_test": [False, True, False]}
    )
    assert data.defect_scope(defects, "road_test").height == 1
    assert data.defect_scope(defects, "before_road_test").height == 1
    assert data.defect_scope(defects, "all").height == 3


# --- models -----------------------------------------------------------------------------------


def _record(version: str, kind: str, champion: bool, pr_auc: float) -> data.VersionRecord:
    metrics = {
        f"test/{kind}/pr_auc": pr_auc,
        f"test/{kind}/roc_auc": 0.7,
        f"test/{kind}/tn": 50.0,
        f"test/{kind}/fp": 10.0,
        f"test/{kind}/fn": 2.0,
        f"test/{kind}/tp": 3.0,
        f"test/{kind}/brier": float("nan"),
        "test/oracle/pr_auc": 0.9,
        f"epoch/{kind}/valid_loss": 0.3,
    }
    return data.VersionRecord(
        version=version,
        kind=kind,
        created_at=datetime(2024, 1, int(version), tzinfo=UTC),
        champion=champion,
        promotion="champion" if champion else "challenger",
        promotion_reason="",
        metrics=metrics,
        params={"split.test_start": "2024-01-05T00:00:00", "split.test_end": "2024-01-09T12:00:00"},
    )


def test_version_metrics_keep_the_registered_model_s_finite_test_metrics() -> None:
    own = data.version_metrics(_record("1", "gbm", True, 0.3).metrics, "gbm")
    assert own["pr_auc"] == 0.3
    assert "brier" not in own and "valid_loss" not in own


def test_versions_table_orders_versions_numerically() -> None:
    records = [_record(v, "gbm", v == "10", 0.1 * i) for i, v in enumerate(("10", "2", "9"))]
    table = data.versions_table(records)
    assert table["version"].to_list() == ["2", "9", "10"]
    assert table["champion"].to_list() == [False, False, True]
    assert table["brier"].null_count() == 3


def test_confusion_matrix_from_metrics() -> None:
    own = data.version_metrics(_record("1", "gbm", True, 0.3).metrics, "gbm")
    assert data.confusion_matrix(own).tolist() == [[50, 10], [2, 3]]  # type: ignore[union-attr]
    assert data.confusion_matrix({"tn": 1.0}) is None


def test_split_window_and_labels_in_it() -> None:
    window = drift.split_window(_record("1", "gbm", True, 0.3).params, "test")
    assert window == (datetime(2024, 1, 5), datetime(2024, 1, 9, 12))
    assert drift.split_window({}, "test") is None
    inside = drift.labels_in_window(_labels(), window)
    assert inside["knr"].to_list() == ["k3"]


def test_activation_history_measures_service_periods() -> None:
    activations = pl.DataFrame(
        {
            "model_version": ["1", "2"],
            "active_from": [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)],
            "active_to": [datetime(2024, 1, 3, tzinfo=UTC), None],
        }
    )
    history = data.activation_history(activations, datetime(2024, 1, 4, tzinfo=UTC))
    assert history["model_version"].to_list() == ["2", "1"]
    assert history["days"].to_list() == pytest.approx([1.0, 2.0])
    assert history["serving"].to_list() == [True, False]


def _predictions() -> pl.DataFrame:
    start = datetime(2024, 1, 10, 12)
    rows = []
    for i in range(8):
        knr = f"k{i}"
        rows.append(
            (knr, "1", 0.1 * i, i >= 4, start - timedelta(hours=2), start - timedelta(hours=3))
        )
        rows.append((knr, "1", 0.5, True, start - timedelta(hours=1), start - timedelta(hours=1)))
        rows.append((knr, "1", 0.9, True, start + timedelta(hours=2), start))
    rows.append(("k_wait", "1", 0.2, False, start, start))
    return pl.DataFrame(
        rows,
        schema={
            "knr": pl.String,
            "model_version": pl.String,
            "probability": pl.Float64,
            "decision": pl.Boolean,
            "predicted_at": pl.Datetime("us"),
            "features_as_of": pl.Datetime("us"),
        },
        orient="row",
    )


def _outcomes() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "knr": [f"k{i}" for i in range(8)],
            "road_test_failed": [False, False, False, True, False, True, True, True],
            "road_test_start_at": [datetime(2024, 1, 10, 12)] * 8,
        }
    )


def test_live_predictions_keep_the_latest_made_before_the_road_test() -> None:
    live = drift.live_predictions(_predictions(), _outcomes())
    assert live.height == 8
    assert live["probability"].to_list() == [0.5] * 8
    assert live.filter(pl.col("predicted_at") >= datetime(2024, 1, 10, 12)).is_empty()


def test_live_performance_matches_sklearn() -> None:
    first_round = datetime(2024, 1, 10, 10)
    predictions = _predictions().filter(pl.col("predicted_at") == first_round)
    live = drift.live_predictions(predictions, _outcomes())
    table = data.live_performance(live, budget=0.25)
    row = table.row(0, named=True)
    y = live["road_test_failed"].cast(pl.Int64).to_numpy()
    p = live["probability"].to_numpy()
    assert (row["vehicles"], row["failed"]) == (8, 4)
    assert row["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert row["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert row["recall_at_budget"] == pytest.approx(0.5)
    assert row["flagged_recall"] == pytest.approx(0.75)
    assert data.awaiting_outcome(_predictions(), _outcomes())["awaiting"].to_list() == [1]


def test_live_performance_leaves_undefined_metrics_empty() -> None:
    live = drift.live_predictions(
        _predictions(), _outcomes().with_columns(road_test_failed=pl.lit(False))
    )
    row = data.live_performance(live).row(0, named=True)
    assert row["roc_auc"] is None and row["pr_auc"] is None and row["flagged_recall"] is None


def test_live_over_time_compares_predicted_and_observed() -> None:
    live = drift.live_predictions(_predictions(), _outcomes())
    table = data.live_over_time(live, "1d")
    assert table.row(0, named=True)["mean_probability"] == pytest.approx(0.5)
    assert table.row(0, named=True)["failure_rate"] == pytest.approx(0.5)


def test_population_stability_sees_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    reference = pl.Series(rng.normal(0, 1, 4000))
    same, shifted = pl.Series(rng.normal(0, 1, 4000)), pl.Series(rng.normal(1.5, 1, 4000))
    assert drift.population_stability(reference, same) < drift.PSI_MODERATE
    assert drift.population_stability(reference, shifted) > drift.PSI_MAJOR
    assert math.isnan(drift.population_stability(reference, pl.Series([], dtype=pl.Float64)))


def test_population_stability_of_text_and_missing_values() -> None:
    reference = pl.Series(["DHS"] * 50 + ["CWL"] * 50)
    assert drift.population_stability(reference, reference) == pytest.approx(0.0)
    mostly_dhs = pl.Series(["DHS"] * 95 + ["CWL"] * 5)
    assert drift.population_stability(reference, mostly_dhs) > drift.PSI_MAJOR
    numbers = pl.Series([1.0, 2.0, 3.0, 4.0] * 25)
    assert (
        drift.population_stability(numbers, pl.Series([None] * 50 + [1.0, 2.0] * 25))
        > drift.PSI_MAJOR
    )


def test_drift_table_ranks_the_shifted_feature_first() -> None:
    rng = np.random.default_rng(1)
    reference = pl.DataFrame(
        {"n_nok": rng.poisson(1, 500), "nok_rate": rng.random(500), "motor": ["DHS"] * 500}
    )
    recent = pl.DataFrame(
        {"n_nok": rng.poisson(4, 500), "nok_rate": rng.random(500), "motor": ["DHS"] * 500}
    )
    table = data.drift_table(reference, recent)
    assert table["feature"].to_list()[0] == "n_nok"
    assert table["level"].to_list()[0] == "major"
    assert set(table["feature"]) == {"n_nok", "nok_rate", "motor"}


def test_recent_vehicles_are_the_latest_by_feature_time() -> None:
    features = pl.DataFrame(
        {"knr": ["a", "b", "c"], "as_of": [T0, T0 + timedelta(days=2), T0 + timedelta(days=1)]}
    )
    assert drift.recent_vehicles(features, 2)["knr"].to_list() == ["b", "c"]


# --- data and health ----------------------------------------------------------------------------


def test_quarantine_summary_groups_reasons_without_their_values() -> None:
    quarantine = pl.DataFrame(
        {
            "table": ["RESULTADOS", "RESULTADOS", "STATUS"],
            "reason": [
                "STATUS '99' is not a result status (10 OK, 13 NOK)",
                "KNR 'XX' is not a vehicle id like 2023-2056234; "
                "STATUS '7' is not a result status (10 OK, 13 NOK)",
                "DATA is empty",
            ],
        }
    )
    summary = data.quarantine_summary(quarantine)
    assert summary.row(0, named=True) == {
        "table": "RESULTADOS",
        "reason": "STATUS … is not a result status (10 OK, 13 NOK)",
        "rows": 2,
    }
    assert summary["rows"].sum() == 4


def test_ingestion_by_day_adds_up_files_and_rows() -> None:
    manifest = pl.DataFrame(
        {
            "received_at": [
                datetime(2024, 1, 1, 8, tzinfo=UTC),
                datetime(2024, 1, 1, 9, tzinfo=UTC),
                datetime(2024, 1, 2, 8, tzinfo=UTC),
            ],
            "outcome": ["loaded", "rejected", "loaded"],
            "rows_read": [10, 5, 7],
            "rows_bronze": [9, 0, 7],
            "rows_quarantined": [1, 0, 0],
        }
    )
    by_day = data.ingestion_by_day(manifest)
    assert by_day["day"].to_list() == [date(2024, 1, 1), date(2024, 1, 2)]
    assert by_day["files"].to_list() == [2, 1]
    assert by_day["rejected_files"].to_list() == [1, 0]
    assert by_day["rows_bronze"].to_list() == [9, 7]
    assert data.ingestion_history(manifest)["received_at"][0] == datetime(2024, 1, 2, 8, tzinfo=UTC)


def test_checks_of_a_run_show_failures_first() -> None:
    runs = pl.DataFrame({"run_id": ["a", "b"], "started_at": [T0, T0 + timedelta(days=1)]})
    assert data.latest_run(runs) == "b"
    assert data.latest_run(runs.clear()) is None
    checks = pl.DataFrame(
        {
            "run_id": ["b", "b", "b", "a"],
            "check_name": ["x", "y", "z", "w"],
            "severity": ["soft", "hard", "soft", "hard"],
            "passed": [True, True, False, False],
        }
    )
    assert data.checks_of_run(checks, "b")["check_name"].to_list() == ["z", "y", "x"]


def test_health_summary_per_service() -> None:
    t = datetime(2024, 3, 1, tzinfo=UTC)
    history = pl.DataFrame(
        {
            "service": ["api", "api", "api", "lake"],
            "checked_at": [t, t + timedelta(hours=1), t + timedelta(hours=2), t],
            "ok": [True, False, True, True],
            "latency_ms": [1.0, 3.0, 2.0, 5.0],
            "detail": ["", "down", "", ""],
        },
        schema=HEALTH_COLUMNS,
    )
    api = data.health_summary(history).row(0, named=True)
    assert api["service"] == "api" and api["n_checks"] == 3
    assert api["ok_share"] == pytest.approx(2 / 3)
    assert api["last_ok"] is True
    assert api["last_failure_at"] == t + timedelta(hours=1)
    assert api["median_latency_ms"] == 2.0


# --- texts ------------------------------------------------------------------------------------


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    for key, texts in TEXTS.items():
        assert set(texts) == set(LANGUAGES), key
        fields = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in texts.items()}
        assert fields["pt-BR"] == fields["en"], key


def _text_keys_used() -> set[str]:
    """Every literal key passed to ``t``/``ctx.t``/``translate`` in the dashboard's code."""
    keys: set[str] = set()
    for path in DASHBOARD.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("t", "translate")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                keys.add(node.args[0].value)
    return keys


def test_every_text_the_code_asks_for_exists() -> None:
    used = _text_keys_used()
    assert len(used) > 100
    assert sorted(used - set(TEXTS)) == []


def test_group_names_and_checks_cover_every_group_in_both_languages() -> None:
    assert set(GROUP_NAMES) == set(data.GROUP_SLUGS)
    assert set(CHECKS_PT) == set(GROUP_CHECKS)
    for group, checks in GROUP_CHECKS.items():
        assert len(CHECKS_PT[group]) == len(checks), group
        assert checks_in(group, "en") == list(checks)
    assert checks_in("back-office test", "pt-BR") == list(CHECKS_PT["back_office_test"])
    assert group_name("external underbody", "pt-BR") == "assoalho externo"
    assert group_name("external_underbody", "en") == "external underbody"


def test_numbers_follow_the_language() -> None:
    assert fmt_pct(0.125, "pt-BR") == "12,5 %"
    assert fmt_pct(0.125, "en") == "12.5%"
    assert fmt_pct(float("nan"), "en") == "–"
    assert fmt_int(1234567, "pt-BR") == "1.234.567"
    assert fmt_int(1234567, "en") == "1,234,567"
    assert fmt_float(1234.5, "pt-BR", 2) == "1.234,50"
    assert fmt_time(datetime(2024, 1, 2, 3, 4), "pt-BR") == "02/01/2024 03:04"
    assert fmt_time(datetime(2024, 1, 2, 3, 4, tzinfo=UTC), "en") == "2024-01-02 03:04 UTC"
    assert translate("planning.scored_by", "en", version="3").endswith("v3; nothing is stored.")
    assert translate("no.such.key", "en") == "no.such.key"


@pytest.mark.slow
def test_the_dashboard_imports_no_torch() -> None:
    modules = ["roadtest.dashboard.app", "roadtest.dashboard.data", "roadtest.dashboard.ui"]
    modules += [
        f"roadtest.dashboard.views.{p.stem}" for p in (DASHBOARD / "views").glob("[a-z]*.py")
    ]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_every_training_run_state_the_api_answers_has_a_text_in_each_language() -> None:
    states = get_args(TrainingRun.model_fields["state"].annotation)
    assert "queued" in states
    for state in states:
        assert set(TEXTS[f"data.run_{state}"]) == set(LANGUAGES)
