"""The promotion rule, on evaluations built directly from hand-made rankings."""

from __future__ import annotations

import numpy as np
import pytest

from roadtest.training.evaluate import Evaluation, evaluate_scores
from roadtest.training.promotion import PromotionRule, decide_promotion

N_VEHICLES = 100


def ranked(
    failing_ranks: list[int], n: int = N_VEHICLES, budgets: tuple[float, ...] = (0.2,)
) -> Evaluation:
    """An evaluation where the failing vehicles sit at the given ranks (1 = riskiest)."""
    y = np.zeros(n, dtype=np.int8)
    y[[r - 1 for r in failing_ranks]] = 1
    p = np.linspace(0.99, 0.01, n)
    return evaluate_scores(y, p, threshold=0.5, budgets=budgets)


GOOD = ranked([1, 2, 3, 4, 5, 6, 7, 8, 30, 60])
"""8 of 10 failures among the 20 riskiest, 8 of them on top: high PR-AUC and recall."""
WEAK = ranked([11, 13, 15, 17, 19, 25, 40, 55, 70, 90])
"""5 of 10 failures among the 20 riskiest, none on top."""
TOP_HEAVY = ranked([1, 2, 3, 4, 5, 60, 70, 80, 90, 100])
"""5 failures on top (PR-AUC well above MIDDLE's) but only 5 of 10 in the 20 riskiest."""
MIDDLE = ranked([11, 12, 13, 14, 15, 16, 17, 18, 95, 100])
"""8 failures just below the top 10: lower PR-AUC, yet 8 of 10 in the 20 riskiest."""


def test_the_first_model_becomes_champion() -> None:
    decision = decide_promotion(WEAK, None)
    assert decision.promote
    assert "first model" in decision.reason
    assert decision.champion_pr_auc is None


def test_a_clearly_better_challenger_is_promoted() -> None:
    decision = decide_promotion(GOOD, WEAK)
    assert GOOD.pr_auc > WEAK.pr_auc + 0.1
    assert decision.promote
    assert decision.challenger_pr_auc == pytest.approx(GOOD.pr_auc)
    assert decision.champion_pr_auc == pytest.approx(WEAK.pr_auc)
    assert "beats the champion" in decision.reason


def test_a_worse_challenger_stays_a_challenger_with_the_reason() -> None:
    decision = decide_promotion(WEAK, GOOD)
    assert not decision.promote
    assert "PR-AUC does not beat the champion" in decision.reason
    assert f"{WEAK.pr_auc:.4f}" in decision.reason


def test_a_gain_below_the_margin_is_not_enough() -> None:
    gain = GOOD.pr_auc - WEAK.pr_auc
    assert not decide_promotion(GOOD, WEAK, PromotionRule(margin=gain + 0.01)).promote
    assert decide_promotion(GOOD, WEAK, PromotionRule(margin=gain - 0.01)).promote


def test_a_higher_pr_auc_does_not_excuse_a_lower_recall_at_the_budget() -> None:
    assert TOP_HEAVY.pr_auc > MIDDLE.pr_auc + 0.1
    assert TOP_HEAVY.recall_at_budget[0.2] < MIDDLE.recall_at_budget[0.2]
    decision = decide_promotion(TOP_HEAVY, MIDDLE)
    assert not decision.promote
    assert "recall at the 20pct budget would drop" in decision.reason
    assert decision.champion_recall == pytest.approx(0.8)


def test_equal_recall_at_the_budget_is_allowed() -> None:
    same_recall_better_order = ranked([1, 2, 3, 4, 5, 6, 7, 20, 95, 100])
    assert same_recall_better_order.recall_at_budget[0.2] == MIDDLE.recall_at_budget[0.2]
    assert decide_promotion(same_recall_better_order, MIDDLE).promote


def test_evaluations_of_different_windows_are_refused() -> None:
    other_window = ranked([1, 2, 3], n=80)
    with pytest.raises(ValueError, match="different windows"):
        decide_promotion(GOOD, other_window)


def test_a_window_without_failures_promotes_nothing() -> None:
    quiet = evaluate_scores(np.zeros(50, dtype=np.int8), np.linspace(0.9, 0.1, 50), 0.5)
    decision = decide_promotion(quiet, None)
    assert not decision.promote
    assert "no failing vehicle" in decision.reason


def test_the_rule_needs_the_recall_at_its_budget() -> None:
    without_20 = ranked([1, 2], budgets=(0.1, 0.3))
    with pytest.raises(ValueError, match="no recall at 20pct"):
        decide_promotion(without_20, None)


@pytest.mark.parametrize(("margin", "budget"), [(-0.1, 0.2), (1.0, 0.2), (0.01, 0.0), (0.01, 1.5)])
def test_rule_settings_out_of_range_are_refused(margin: float, budget: float) -> None:
    with pytest.raises(ValueError, match="must lie in"):
        PromotionRule(margin=margin, budget=budget)


def test_decision_to_dict_is_json_ready() -> None:
    payload = decide_promotion(GOOD, WEAK).to_dict()
    assert payload["promote"] is True
    assert set(payload) == {
        "promote",
        "reason",
        "challenger_pr_auc",
        "challenger_recall",
        "champion_pr_auc",
        "champion_recall",
    }
