"""Metrics against values worked out by hand, and against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from roadtest.training.evaluate import (
    ORACLE_NAME,
    choose_threshold,
    compare,
    evaluate_scores,
    recall_at_budget,
)

# Ten cars, three failed. Sorted by risk: 0.9 (failed), three tied at 0.8 (one failed),
# 0.5, 0.4, 0.3 (failed), 0.2, 0.1, 0.1.
Y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
P = np.array([0.9, 0.8, 0.8, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1])


def test_confusion_matrix_and_rates_at_the_threshold() -> None:
    e = evaluate_scores(Y, P, threshold=0.5)
    # Flagged (>= 0.5): 0.9, 0.8 x3, 0.5 -> 2 failed (tp), 3 passed (fp); 0.3 failed (fn).
    assert e.confusion.tolist() == [[4, 3], [1, 2]]
    assert (e.accuracy, e.error_rate) == (0.6, 0.4)
    assert e.precision == pytest.approx(2 / 5)
    assert e.recall == pytest.approx(2 / 3)
    assert e.f1 == pytest.approx(2 * 2 / (2 * 2 + 3 + 1))
    assert e.prevalence == pytest.approx(0.3)


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(int)
    p = np.clip(0.1 + 0.3 * y + rng.normal(0, 0.15, 500), 0, 1)
    e = evaluate_scores(y, p, threshold=0.3)
    predicted = (p >= 0.3).astype(int)
    assert e.accuracy == pytest.approx(accuracy_score(y, predicted))
    assert e.precision == pytest.approx(precision_score(y, predicted))
    assert e.recall == pytest.approx(recall_score(y, predicted))
    assert e.f1 == pytest.approx(f1_score(y, predicted))
    assert e.roc_auc == pytest.approx(roc_auc_score(y, p))
    assert e.pr_auc == pytest.approx(average_precision_score(y, p))
    assert e.brier == pytest.approx(brier_score_loss(y, p))
    assert e.calibration.counts.sum() == 500
    assert np.all(np.diff(e.calibration.mean_predicted) > 0)


def test_recall_at_budget_shares_tied_places_evenly() -> None:
    # 20 % of 10 cars = 2 places: the 0.9 car (failed), then 1 of the 3 cars tied at 0.8,
    # of which 1 failed -> expected 1 + 1/3 failed cars caught of 3.
    assert recall_at_budget(Y, P, 0.2) == pytest.approx((1 + 1 / 3) / 3)
    assert recall_at_budget(Y, P, 0.3) == pytest.approx((1 + 2 / 3) / 3)
    assert recall_at_budget(Y, P, 0.1) == pytest.approx(1 / 3)
    assert recall_at_budget(Y, P, 1.0) == pytest.approx(1.0)
    shuffled = np.random.default_rng(1).permutation(10)
    assert recall_at_budget(Y[shuffled], P[shuffled], 0.2) == recall_at_budget(Y, P, 0.2)
    assert recall_at_budget(Y, np.full(10, 0.5), 0.3) == pytest.approx(0.3)


def test_budget_metrics_in_the_evaluation() -> None:
    e = evaluate_scores(Y, P, threshold=0.5, budgets=(0.2, 0.5))
    assert e.recall_at_budget[0.2] == pytest.approx(4 / 9)
    assert e.precision_at_budget[0.2] == pytest.approx((4 / 3) / 2)
    # 50 %: 0.9, all three 0.8, 0.5 -> 2 of 3 failures.
    assert e.recall_at_budget[0.5] == pytest.approx(2 / 3)
    assert e.budget_curve.recall[20] == pytest.approx(4 / 9)
    assert e.budget_curve.recall[-1] == pytest.approx(1.0)
    metrics = e.to_dict()
    assert metrics["recall_at_20pct"] == pytest.approx(4 / 9)
    assert metrics["precision_at_50pct"] == pytest.approx(2 / 5)
    assert (metrics["tn"], metrics["fp"], metrics["fn"], metrics["tp"]) == (4, 3, 1, 2)


def test_threshold_reaches_the_target_recall_on_validation() -> None:
    # Failed cars score 0.9, 0.8, 0.3: 80 % of 3 needs all three, 60 % needs two.
    assert choose_threshold(Y, P, target_recall=0.8) == 0.3
    assert choose_threshold(Y, P, target_recall=0.6) == 0.8
    assert choose_threshold(Y, P, target_recall=1 / 3) == 0.9
    threshold = choose_threshold(Y, P, target_recall=0.6)
    assert evaluate_scores(Y, P, threshold).recall >= 0.6
    with pytest.raises(ValueError, match="no failing vehicle"):
        choose_threshold(np.zeros(3, dtype=int), np.full(3, 0.2))
    with pytest.raises(ValueError, match=r"target recall must lie in \(0, 1\]"):
        choose_threshold(Y, P, target_recall=0)


def test_groups_without_failures_are_skipped_with_the_reason() -> None:
    y_groups = np.column_stack([Y, np.zeros(10, dtype=int)])
    p_groups = np.column_stack([P, P])
    e = evaluate_scores(Y, P, 0.5, y_groups, p_groups, group_names=["doors", "front"])
    assert e.group_roc_auc == {"doors": pytest.approx(roc_auc_score(Y, P))}
    assert "no vehicle failed" in e.skipped_groups["front"]
    assert "group_roc_auc/doors" in e.to_dict()
    with pytest.raises(ValueError, match="give both"):
        evaluate_scores(Y, P, 0.5, y_groups=y_groups)


def test_a_window_without_failures_gives_undefined_metrics_not_errors() -> None:
    e = evaluate_scores(np.zeros(5, dtype=int), np.linspace(0, 0.4, 5), 0.5)
    assert math.isnan(e.roc_auc) and math.isnan(e.pr_auc) and math.isnan(e.recall)
    assert math.isnan(e.recall_at_budget[0.1])
    assert e.accuracy == 1.0


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        (np.array([0, 2]), np.array([0.1, 0.2]), "labels must be 0"),
        (np.array([0, 1]), np.array([0.1, 1.2]), "probabilities in"),
        (np.array([0, 1]), np.array([0.1, np.nan]), "probabilities in"),
        (np.array([0, 1]), np.array([0.1]), "must be 1-D and match"),
    ],
)
def test_bad_scores_are_refused(y: np.ndarray, p: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_scores(y, p, 0.5)


def test_comparison_table_with_gap_to_the_oracle() -> None:
    oracle = evaluate_scores(Y, P, 0.5)
    flat = evaluate_scores(Y, np.full(10, 0.3), 0.5)
    table = compare({"flat": flat, "same": oracle}, oracle=oracle)
    assert table["model"].to_list() == ["flat", "same", ORACLE_NAME]
    flat_row = table.row(0, named=True)
    assert flat_row["pr_auc_gap"] == pytest.approx(oracle.pr_auc - flat.pr_auc)
    assert flat_row["recall_at_10pct_gap"] == pytest.approx(1 / 3 - 0.1)
    assert flat_row["brier_gap"] == pytest.approx(flat.brier - oracle.brier)
    assert table.row(2, named=True)["roc_auc_gap"] == 0.0
    assert "pr_auc_gap" not in compare({"flat": flat}).columns
    other_window = evaluate_scores(Y[:8], P[:8], 0.5)
    with pytest.raises(ValueError, match="different windows"):
        compare({"flat": flat, "short": other_window})
