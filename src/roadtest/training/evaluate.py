"""How good is a risk score, measured the way the plant measures it.

Besides the usual classification metrics, the plant asks: if we give the full
road test only to the ``budget`` share of cars with the highest risk, what
share of the cars that truly fail do we catch? That is the recall at an
inspection budget, defined exactly as follows.

- ``k = floor(budget * N)`` cars are inspected (at least one), ``N`` the number
  of vehicles evaluated.
- Cars are taken by decreasing risk. When the ``k``-th place falls inside a
  group of cars with the same risk, the remaining places are shared evenly
  inside the group: each of its cars counts as inspected with probability
  (places left / cars in the group). The result is the expected recall under a
  random order of ties, so it does not depend on the order of the rows, and a
  constant score catches exactly ``k / N`` of the failures.
- Recall at budget = expected failing cars inspected / all failing cars
  (NaN when no car failed); precision at budget = the same over ``k``.

A car is predicted to fail when its risk is at or above the threshold.
Everything here is pure numpy and scikit-learn metrics on arrays.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

DEFAULT_BUDGETS: tuple[float, ...] = (0.1, 0.2, 0.3)
ORACLE_NAME = "oracle"
_BUDGET_CURVE_POINTS = 101
_EPSILON = 1e-9


@dataclass(frozen=True)
class RocCurve:
    """False-positive rate against true-positive rate, by decreasing threshold."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


@dataclass(frozen=True)
class PrCurve:
    """Precision against recall, by increasing threshold (scikit-learn's order)."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


@dataclass(frozen=True)
class CalibrationCurve:
    """Per equal-count bin of predicted risk: mean prediction, observed failure rate, size."""

    mean_predicted: np.ndarray
    observed_rate: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class BudgetCurve:
    """Recall at every inspection budget from 0 to 100 % of the cars."""

    budget: np.ndarray
    recall: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    """All metrics of one model's scores on one evaluation window.

    ``confusion`` is [[passed & predicted pass, passed & predicted fail],
    [failed & predicted pass, failed & predicted fail]] at ``threshold``.
    ``skipped_groups`` names each failure group without a ROC-AUC and why.
    """

    n_vehicles: int
    n_failed: int
    threshold: float
    accuracy: float
    error_rate: float
    precision: float
    recall: float
    f1: float
    roc_auc: float
    pr_auc: float
    brier: float
    calibration_error: float
    confusion: np.ndarray
    roc: RocCurve
    pr: PrCurve
    calibration: CalibrationCurve
    budget_curve: BudgetCurve
    recall_at_budget: Mapping[float, float]
    precision_at_budget: Mapping[float, float]
    group_roc_auc: Mapping[str, float] = field(default_factory=dict)
    skipped_groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def prevalence(self) -> float:
        """Share of vehicles that failed the road test."""
        return self.n_failed / self.n_vehicles

    def to_dict(self) -> dict[str, float]:
        """The scalar metrics under MLflow-safe names (budgets as ``recall_at_10pct``)."""
        tn, fp, fn, tp = (float(v) for v in self.confusion.ravel())
        metrics = {
            "n_vehicles": float(self.n_vehicles),
            "n_failed": float(self.n_failed),
            "prevalence": self.prevalence,
            "threshold": self.threshold,
            "accuracy": self.accuracy,
            "error_rate": self.error_rate,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "roc_auc": self.roc_auc,
            "pr_auc": self.pr_auc,
            "brier": self.brier,
            "calibration_error": self.calibration_error,
            "tn": tn,
            "fp": fp,
            "fn": fn,
            "tp": tp,
        }
        for budget, value in self.recall_at_budget.items():
            metrics[f"recall_at_{budget_label(budget)}"] = value
        for budget, value in self.precision_at_budget.items():
            metrics[f"precision_at_{budget_label(budget)}"] = value
        for name, value in self.group_roc_auc.items():
            metrics[f"group_roc_auc/{_metric_safe(name)}"] = value
        if self.group_roc_auc:
            metrics["group_roc_auc_mean"] = float(np.mean(list(self.group_roc_auc.values())))
        return metrics


def budget_label(budget: float) -> str:
    """``0.1`` → ``10pct``: how a budget appears in metric and column names."""
    return f"{budget * 100:g}pct"


def _metric_safe(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.\- ]", "_", name)


def _check_scores(y_true: np.ndarray, p: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels as int 0/1 and scores as float64 in [0, 1], or a clear error."""
    y = np.asarray(y_true)
    scores = np.asarray(p, dtype=np.float64)
    if y.ndim != 1 or scores.shape != y.shape:
        raise ValueError(
            f"{what}: labels {y.shape} and scores {scores.shape} must be 1-D and match"
        )
    if y.size == 0:
        raise ValueError(f"{what}: no vehicles to evaluate")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{what}: labels must be 0 (passed) or 1 (failed)")
    if not np.isfinite(scores).all() or scores.min() < 0 or scores.max() > 1:
        raise ValueError(f"{what}: risk scores must be probabilities in [0, 1] without NaN")
    return y.astype(np.int64), scores


def _inspected(n_vehicles: int, budget: float) -> int:
    """Cars inspected at ``budget``: floor(budget * N), at least one."""
    return max(1, math.floor(budget * n_vehicles + _EPSILON))


def _expected_captured(y: np.ndarray, p: np.ndarray, inspected: np.ndarray) -> np.ndarray:
    """Expected failing cars among the ``inspected`` riskiest, ties shared evenly."""
    order = np.argsort(-p, kind="stable")
    ranked_p, ranked_y = p[order], y[order]
    starts = np.flatnonzero(np.r_[True, ranked_p[1:] != ranked_p[:-1]])
    sizes = np.diff(np.r_[starts, p.shape[0]])
    positives = np.add.reduceat(ranked_y, starts)
    cum_sizes, cum_positives = np.cumsum(sizes), np.cumsum(positives)
    group = np.minimum(np.searchsorted(cum_sizes, inspected, side="left"), sizes.shape[0] - 1)
    before = cum_sizes[group] - sizes[group]
    captured_before = cum_positives[group] - positives[group]
    result: np.ndarray = captured_before + positives[group] * (inspected - before) / sizes[group]
    return result


def recall_at_budget(y_true: np.ndarray, p: np.ndarray, budget: float) -> float:
    """Share of failing cars among the ``budget`` share of riskiest cars (see module doc)."""
    y, scores = _check_scores(y_true, p, "recall at budget")
    _check_budgets((budget,))
    if y.sum() == 0:
        return float("nan")
    k = np.array([_inspected(y.shape[0], budget)])
    return float(_expected_captured(y, scores, k)[0] / y.sum())


def _check_budgets(budgets: Sequence[float]) -> None:
    if not budgets or any(not 0 < b <= 1 for b in budgets):
        raise ValueError(f"inspection budgets must be shares in (0, 1], got {tuple(budgets)}")


def choose_threshold(y_valid: np.ndarray, p_valid: np.ndarray, target_recall: float = 0.8) -> float:
    """The highest threshold whose recall on validation reaches ``target_recall``.

    With ``m = ceil(target_recall * failing cars)``, it is the ``m``-th highest
    risk among the failing validation cars: flagging every car at or above it
    catches at least ``m`` of them, and any higher threshold catches fewer.
    """
    y, scores = _check_scores(y_valid, p_valid, "threshold choice")
    if not 0 < target_recall <= 1:
        raise ValueError(f"target recall must lie in (0, 1], got {target_recall}")
    failing = np.sort(scores[y == 1])[::-1]
    if failing.size == 0:
        raise ValueError(
            "the validation window has no failing vehicle, so no threshold can reach a recall; "
            "widen the window"
        )
    needed = max(1, math.ceil(target_recall * failing.size - _EPSILON))
    return float(failing[needed - 1])


def _calibration(y: np.ndarray, p: np.ndarray, bins: int) -> tuple[CalibrationCurve, float]:
    """Equal-count bins (so rare high-risk cars get bins too) and the expected calibration error."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    index = np.searchsorted(edges[1:-1], p, side="right")
    counts = np.bincount(index, minlength=edges.size - 1)
    used = counts > 0
    mean_p = np.bincount(index, weights=p, minlength=counts.size)[used] / counts[used]
    observed = np.bincount(index, weights=y, minlength=counts.size)[used] / counts[used]
    error = float(np.sum(counts[used] * np.abs(observed - mean_p)) / p.shape[0])
    return CalibrationCurve(mean_p, observed, counts[used]), error


def _group_aucs(
    y_groups: np.ndarray | None,
    p_groups: np.ndarray | None,
    group_names: Sequence[str] | None,
    n_vehicles: int,
) -> tuple[dict[str, float], dict[str, str]]:
    """ROC-AUC per failure group; groups where it is undefined are listed with the reason."""
    if y_groups is None and p_groups is None:
        return {}, {}
    if y_groups is None or p_groups is None:
        raise ValueError("give both y_groups and p_groups, or neither")
    labels, scores = np.asarray(y_groups), np.asarray(p_groups, dtype=np.float64)
    if labels.ndim != 2 or labels.shape != scores.shape or labels.shape[0] != n_vehicles:
        raise ValueError(
            f"group labels {labels.shape} and scores {scores.shape} must both be "
            f"[{n_vehicles} vehicles, groups]"
        )
    names = (
        list(group_names)
        if group_names is not None
        else [f"group_{g}" for g in range(labels.shape[1])]
    )
    if len(names) != labels.shape[1] or len(set(names)) != len(names):
        raise ValueError(f"need {labels.shape[1]} distinct group names, got {names}")
    aucs: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for g, name in enumerate(names):
        column, score = _check_scores(labels[:, g], scores[:, g], f"failure group {name}")
        positives = int(column.sum())
        if positives == 0:
            skipped[name] = "no vehicle failed in this group in the evaluation window"
        elif positives == n_vehicles:
            skipped[name] = "every vehicle failed in this group in the evaluation window"
        else:
            aucs[name] = float(roc_auc_score(column, score))
    return aucs, skipped


def evaluate_scores(
    y_true: np.ndarray,
    p: np.ndarray,
    threshold: float,
    y_groups: np.ndarray | None = None,
    p_groups: np.ndarray | None = None,
    group_names: Sequence[str] | None = None,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    calibration_bins: int = 10,
) -> Evaluation:
    """Every metric of risk scores ``p`` for outcomes ``y_true`` (1 = failed the road test).

    Metrics that need both outcomes (ROC-AUC; PR-AUC and recalls without failures)
    are NaN when the window lacks one, rather than an error, so a quiet week
    still produces a report.
    """
    y, scores = _check_scores(y_true, p, "evaluation")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    _check_budgets(budgets)
    if calibration_bins < 1:
        raise ValueError("calibration_bins must be at least 1")
    n, failed = y.shape[0], int(y.sum())
    predicted = scores >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = failed - tp
    tn = n - failed - fp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / failed if failed else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    both_outcomes = 0 < failed < n
    calibration, calibration_error = _calibration(y, scores, calibration_bins)
    inspected = np.array([_inspected(n, b) for b in budgets])
    captured = _expected_captured(y, scores, inspected)
    curve_budget = np.linspace(0, 1, _BUDGET_CURVE_POINTS)
    curve_k = np.floor(curve_budget * n + _EPSILON).astype(np.int64)
    group_auc, skipped = _group_aucs(y_groups, p_groups, group_names, n)
    return Evaluation(
        n_vehicles=n,
        n_failed=failed,
        threshold=float(threshold),
        accuracy=(tp + tn) / n,
        error_rate=(fp + fn) / n,
        precision=precision,
        recall=recall,
        f1=f1,
        roc_auc=float(roc_auc_score(y, scores)) if both_outcomes else float("nan"),
        pr_auc=float(average_precision_score(y, scores)) if failed else float("nan"),
        brier=float(np.mean((scores - y) ** 2)),
        calibration_error=calibration_error,
        confusion=np.array([[tn, fp], [fn, tp]], dtype=np.int64),
        roc=RocCurve(*roc_curve(y, scores)) if both_outcomes else _empty_roc(),
        pr=PrCurve(*precision_recall_curve(y, scores)) if failed else _empty_pr(),
        calibration=calibration,
        budget_curve=BudgetCurve(
            curve_budget,
            _expected_captured(y, scores, curve_k) / failed
            if failed
            else np.full(curve_budget.shape, np.nan),
        ),
        recall_at_budget={
            b: float(c / failed) if failed else float("nan")
            for b, c in zip(budgets, captured, strict=True)
        },
        precision_at_budget={
            b: float(c / k) for b, c, k in zip(budgets, captured, inspected, strict=True)
        },
        group_roc_auc=group_auc,
        skipped_groups=skipped,
    )


def _empty_roc() -> RocCurve:
    return RocCurve(np.empty(0), np.empty(0), np.empty(0))


def _empty_pr() -> PrCurve:
    return PrCurve(np.empty(0), np.empty(0), np.empty(0))


_GAP_HIGHER_BETTER = ("roc_auc", "pr_auc")


def compare(
    evaluations: Mapping[str, Evaluation], oracle: Evaluation | None = None
) -> pl.DataFrame:
    """One row per model (in the given order), then the oracle when given.

    With an oracle (the simulator's true probabilities on the same window),
    ``<metric>_gap`` columns say how far each model is behind it: oracle minus
    model for AUCs and recalls at budget, model minus oracle for the Brier
    score, so a positive gap is always room to improve.
    """
    if not evaluations:
        raise ValueError("no model evaluations to compare")
    if oracle is not None and ORACLE_NAME in evaluations:
        raise ValueError(f"a model may not be called {ORACLE_NAME!r} when an oracle is given")
    rows = dict(evaluations)
    if oracle is not None:
        rows[ORACLE_NAME] = oracle
    _check_same_window(rows)
    budgets = list(next(iter(rows.values())).recall_at_budget)
    records = [_comparison_row(name, evaluation) for name, evaluation in rows.items()]
    table = pl.DataFrame(records)
    if oracle is None:
        return table
    reference = _comparison_row(ORACLE_NAME, oracle)
    higher_better = [*_GAP_HIGHER_BETTER, *(f"recall_at_{budget_label(b)}" for b in budgets)]
    gaps = [(pl.lit(reference[c]) - pl.col(c)).alias(f"{c}_gap") for c in higher_better]
    gaps.append((pl.col("brier") - pl.lit(reference["brier"])).alias("brier_gap"))
    return table.with_columns(gaps)


def _check_same_window(rows: Mapping[str, Evaluation]) -> None:
    """Models can only be compared on the same vehicles and budgets."""
    windows = {(e.n_vehicles, e.n_failed) for e in rows.values()}
    if len(windows) > 1:
        raise ValueError(
            f"the evaluations cover different windows (vehicles, failed): {sorted(windows)}; "
            "evaluate every model and the oracle on the same test vehicles"
        )
    budgets = {tuple(e.recall_at_budget) for e in rows.values()}
    if len(budgets) > 1:
        raise ValueError(f"the evaluations use different inspection budgets: {sorted(budgets)}")


def _comparison_row(name: str, evaluation: Evaluation) -> dict[str, float | str]:
    row: dict[str, float | str] = {
        "model": name,
        "roc_auc": evaluation.roc_auc,
        "pr_auc": evaluation.pr_auc,
        "brier": evaluation.brier,
        "calibration_error": evaluation.calibration_error,
    }
    for budget, value in evaluation.recall_at_budget.items():
        row[f"recall_at_{budget_label(budget)}"] = value
    row |= {
        "threshold": evaluation.threshold,
        "precision": evaluation.precision,
        "recall": evaluation.recall,
        "f1": evaluation.f1,
        "accuracy": evaluation.accuracy,
        "group_roc_auc_mean": (
            float(np.mean(list(evaluation.group_roc_auc.values())))
            if evaluation.group_roc_auc
            else float("nan")
        ),
    }
    return row
