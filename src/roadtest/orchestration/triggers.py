"""Gathers what the retraining trigger needs from the stores and asks ``monitor.drift``.

Reference vehicles are those of the champion's training window (from its
MLflow run's split parameters); recent vehicles the newest of the feature
mart; live predictions the champion's, made before each vehicle's road test.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from roadtest.config import Settings
from roadtest.monitor.drift import (
    RetrainDecision,
    decide_retraining,
    feature_drift,
    labels_in_window,
    live_predictions,
    live_recall,
    recent_vehicles,
    split_window,
)
from roadtest.training.evaluate import budget_label
from roadtest.training.promotion import PromotionRule
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse


@dataclass(frozen=True)
class TriggerAssessment:
    """The champion judged, and what the drift and performance checks decided."""

    champion_version: str
    decision: RetrainDecision


def _test_recall(tags: dict[str, str], budget: float) -> float | None:
    value = tags.get(f"test_recall_at_{budget_label(budget)}")
    return None if value is None else float(value)


def assess_retraining(settings: Settings) -> TriggerAssessment | None:
    """Drift and live performance of the champion; None while there is no champion."""
    registry = Registry.from_settings(settings)
    champion = registry.get_champion()
    if champion is None:
        return None
    budget = PromotionRule().budget
    window = split_window(registry.version_details(champion.version).params, "train")
    warehouse = Warehouse.from_settings(settings)
    try:
        features = warehouse.read_features()
        labels = warehouse.read_labels()
        predictions = warehouse.read_predictions()
    finally:
        warehouse.dispose()
    drift: dict[str, float] = {}
    if window is not None:
        reference = features.join(labels_in_window(labels, window).select("knr"), on="knr")
        drift = feature_drift(reference, recent_vehicles(features, settings.drift_recent_vehicles))
    live = live_predictions(predictions, labels).filter(pl.col("model_version") == champion.version)
    decision = decide_retraining(
        drift,
        settings.drift_psi_threshold,
        live_recall(live, budget, settings.performance_min_failures),
        _test_recall(dict(champion.tags), budget),
        settings.performance_drop_threshold,
    )
    return TriggerAssessment(champion.version, decision)
