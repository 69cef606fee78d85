"""When a newly trained model replaces the champion, and the record of every change.

The rule protects the road-test team from a model that looks better on one
metric but catches fewer failing cars at the budget they can afford: the
challenger takes the ``champion`` alias only if, on the same (newest) test
window, its PR-AUC beats the champion's by at least ``margin`` *and* its recall
at the inspection budget (20 % by default) is not lower. The first model of
the registry becomes champion. Deciding is a pure function of two
``Evaluation`` objects; applying the decision (alias + activation row) is
``activate_version``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from roadtest.training.evaluate import Evaluation, budget_label
from roadtest.training.registry import MODEL_NAME, Registry
from roadtest.warehouse import Warehouse
from roadtest.warehouse.store import utc_now

DEFAULT_MARGIN = 0.01
"""PR-AUC points a challenger must gain: below that, a difference is mostly window noise."""

DEFAULT_BUDGET = 0.2
"""Inspection budget (share of cars given the full road test) whose recall may not drop."""


@dataclass(frozen=True)
class PromotionRule:
    """How much better a challenger must be, and at which budget recall may not drop."""

    margin: float = DEFAULT_MARGIN
    budget: float = DEFAULT_BUDGET

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ValueError(f"the PR-AUC margin must lie in [0, 1), got {self.margin}")
        if not 0 < self.budget <= 1:
            raise ValueError(f"the inspection budget must lie in (0, 1], got {self.budget}")


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of the rule, with the numbers it compared and a sentence saying why."""

    promote: bool
    reason: str
    challenger_pr_auc: float
    challenger_recall: float
    champion_pr_auc: float | None = None
    champion_recall: float | None = None

    def to_dict(self) -> dict[str, float | bool | str | None]:
        """JSON-ready form (for ``roadtest train --json`` and the version's tags)."""
        return {
            "promote": self.promote,
            "reason": self.reason,
            "challenger_pr_auc": _finite_or_none(self.challenger_pr_auc),
            "challenger_recall": _finite_or_none(self.challenger_recall),
            "champion_pr_auc": _finite_or_none(self.champion_pr_auc),
            "champion_recall": _finite_or_none(self.champion_recall),
        }


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def recall_at(evaluation: Evaluation, budget: float, who: str = "model") -> float:
    """Recall at ``budget``, or a clear error when the evaluation did not compute it."""
    for key, value in evaluation.recall_at_budget.items():
        if math.isclose(key, budget):
            return value
    raise ValueError(
        f"the {who}'s evaluation has no recall at {budget_label(budget)} (it has "
        f"{[budget_label(b) for b in evaluation.recall_at_budget]}); evaluate with that budget"
    )


def decide_promotion(
    challenger: Evaluation, champion: Evaluation | None, rule: PromotionRule | None = None
) -> PromotionDecision:
    """Apply the promotion rule to the challenger's and the champion's test evaluations.

    Both evaluations must cover the same vehicles (the challenger's test window),
    otherwise the comparison says nothing and is refused.
    """
    rule = rule or PromotionRule()
    label = budget_label(rule.budget)
    pr_auc = challenger.pr_auc
    recall = recall_at(challenger, rule.budget, "challenger")
    if math.isnan(pr_auc):
        return PromotionDecision(
            False,
            "the test window has no failing vehicle, so the challenger cannot be judged",
            pr_auc,
            recall,
        )
    if champion is None:
        return PromotionDecision(True, "first model of the registry", pr_auc, recall)
    if (champion.n_vehicles, champion.n_failed) != (challenger.n_vehicles, challenger.n_failed):
        raise ValueError(
            "champion and challenger were evaluated on different windows "
            f"({champion.n_vehicles} vs {challenger.n_vehicles} vehicles); score the champion "
            "on the challenger's test vehicles"
        )
    old_pr_auc = champion.pr_auc
    old_recall = recall_at(champion, rule.budget, "champion")
    numbers = (
        f"PR-AUC {pr_auc:.4f} vs champion {old_pr_auc:.4f} (margin {rule.margin:.4f}), "
        f"recall at {label} {recall:.4f} vs {old_recall:.4f}"
    )
    if pr_auc < old_pr_auc + rule.margin:
        reason = f"PR-AUC does not beat the champion by the margin: {numbers}"
        return PromotionDecision(False, reason, pr_auc, recall, old_pr_auc, old_recall)
    if recall < old_recall:
        reason = f"recall at the {label} budget would drop: {numbers}"
        return PromotionDecision(False, reason, pr_auc, recall, old_pr_auc, old_recall)
    return PromotionDecision(
        True, f"beats the champion: {numbers}", pr_auc, recall, old_pr_auc, old_recall
    )


def activate_version(
    registry: Registry, warehouse: Warehouse, version: str, at: datetime | None = None
) -> str | None:
    """Make ``version`` the champion and record the change in the model-activation table.

    Returns the previous champion's version (None for the first); a version that
    already is the champion changes nothing. When the warehouse write fails, the
    alias is put back so the registry and the activation history never disagree
    about which model serves.
    """
    previous = registry.get_champion()
    if previous is not None and previous.version == version:
        return version
    registry.set_champion(version)
    try:
        warehouse.record_activation(MODEL_NAME, version, at or utc_now())
    except Exception:
        if previous is None:
            registry.clear_champion()
        else:
            registry.set_champion(previous.version)
        raise
    return None if previous is None else previous.version


def promote_by_hand(
    registry: Registry, warehouse: Warehouse, version: str, who: str = "by hand"
) -> str | None:
    """Make ``version`` the champion outside the rule, and say so in the version's tags.

    Returns the previous champion (``version`` itself when it already was; then
    nothing changes). ``who`` names the channel in the recorded reason, e.g.
    "by hand" (CLI) or "through the API".
    """
    previous = activate_version(registry, warehouse, version)
    if previous != version:
        registry.set_version_tags(
            version,
            {
                "promotion": "champion",
                "promotion_reason": f"promoted {who} (previous champion: {previous or 'none'})",
            },
        )
    return previous
