"""When to retrain: drift of key features, or live performance falling below the test.

Pure functions over frames, shared by the dashboard's Models page and the
retraining trigger, so both always agree on what "drift" and "live" mean.

Drift compares the champion's training vehicles with the newest vehicles of
the feature mart, on the features the Models page watches. Live performance
is the recall at the inspection budget of the champion's live predictions
(made before the road test, see ``live_predictions``) against
the outcomes that arrived, compared with the recall measured on its test
window when it was trained. Too few failed road tests say nothing, so live
performance triggers only once ``min_failures`` of them are known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import numpy as np
import polars as pl

from roadtest.training.evaluate import recall_at_budget

PSI_MODERATE: Final = 0.1
PSI_MAJOR: Final = 0.25
"""Population stability index levels: below 0.1 stable, 0.1–0.25 moderate shift, above major."""


DRIFT_NUMERIC: Final = (
    "n_results",
    "n_nok",
    "nok_rate",
    "n_rework",
    "rework_rate",
    "min_margin",
    "n_passages",
    "n_negative_gaps",
    "line_time_s",
    "n_defects",
)
DRIFT_CATEGORICAL: Final = ("motor", "cor", "modelo")
"""Feature-mart columns whose drift the Models page watches: the inputs with the most weight in
the simulator's failure mechanisms and the vehicle configuration."""


def split_window(params: Mapping[str, str], part: str) -> tuple[datetime, datetime] | None:
    """The (first, last) road-test start of a run's ``train``/``valid``/``test`` part."""
    start, end = params.get(f"split.{part}_start"), params.get(f"split.{part}_end")
    if not start or not end:
        return None
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


def labels_in_window(labels: pl.DataFrame, window: tuple[datetime, datetime]) -> pl.DataFrame:
    """Labelled vehicles whose road test started inside ``window`` (both ends included)."""
    start, end = window
    return labels.filter(pl.col("road_test_start_at").is_between(start, end, closed="both"))


def live_predictions(predictions: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Each vehicle's latest pre-road-test prediction per version, with its outcome.

    A prediction is *live* when the features it saw end before the vehicle's
    road-test start (``features_as_of < road_test_start_at``): it was made while
    the outcome was unknown. Predictions made afterwards (``roadtest predict --all``
    over road-tested vehicles) score a known past and are left out.
    """
    outcomes = labels.select("knr", "road_test_failed", "road_test_start_at")
    return (
        predictions.join(outcomes, on="knr", how="inner")
        .filter(
            pl.col("features_as_of").is_not_null()
            & (pl.col("features_as_of") < pl.col("road_test_start_at"))
        )
        .sort("predicted_at")
        .group_by("knr", "model_version", maintain_order=True)
        .last()
        .sort("road_test_start_at", "knr")
    )


def _shares(codes: np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=bins).astype(np.float64)
    return np.maximum(counts / max(codes.size, 1), 1e-4)


def _numeric_codes(reference: np.ndarray, recent: np.ndarray, bins: int) -> tuple[Any, Any, int]:
    """Bin both samples on the reference's quantiles; missing values get a bin of their own."""
    known = reference[~np.isnan(reference)]
    edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1))) if known.size else None
    inner = np.empty(0) if edges is None else edges[1:-1]
    n_bins = inner.size + 2

    def codes(values: np.ndarray) -> np.ndarray:
        found = np.searchsorted(inner, values, side="right")
        return np.where(np.isnan(values), n_bins - 1, found)

    return codes(reference), codes(recent), n_bins


def population_stability(reference: pl.Series, recent: pl.Series, bins: int = 10) -> float:
    """Population stability index of ``recent`` against ``reference``: Σ (a − e) · ln(a / e).

    ``e``/``a`` are the shares of the reference and recent vehicles in each bin:
    the reference's deciles for a number (missing values in a bin of their own),
    each value for text. Shares are floored at 0.01 % so an empty bin counts as
    a large shift instead of an infinite one. NaN when either side is empty.
    """
    if reference.len() == 0 or recent.len() == 0:
        return float("nan")
    if reference.dtype.is_numeric() or reference.dtype == pl.Boolean:
        ref = reference.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        new = recent.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        ref_codes, new_codes, n_bins = _numeric_codes(ref, new, bins)
    else:
        values = pl.concat([reference, recent]).cast(pl.String).fill_null("").unique().sort()
        index = {value: i for i, value in enumerate(values.to_list())}
        n_bins = len(index)
        ref_codes = np.array([index[v] for v in reference.cast(pl.String).fill_null("")])
        new_codes = np.array([index[v] for v in recent.cast(pl.String).fill_null("")])
    expected, actual = _shares(ref_codes, n_bins), _shares(new_codes, n_bins)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_level(psi: float) -> str:
    """``stable``, ``moderate`` or ``major`` for a stability index (``unknown`` when NaN)."""
    if math.isnan(psi):
        return "unknown"
    if psi < PSI_MODERATE:
        return "stable"
    return "moderate" if psi < PSI_MAJOR else "major"


def recent_vehicles(features: pl.DataFrame, count: int) -> pl.DataFrame:
    """The ``count`` vehicles with the latest feature time (``as_of``)."""
    return features.sort("as_of", "knr", descending=[True, False]).head(count)


KEY_FEATURES: tuple[str, ...] = (*DRIFT_NUMERIC, *DRIFT_CATEGORICAL)
"""Features whose drift can trigger retraining: those the Models page watches."""


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to retrain, why, and the measurements behind it."""

    retrain: bool
    reasons: tuple[str, ...]
    drifted: Mapping[str, float] = field(default_factory=dict)
    live_recall: float | None = None
    test_recall: float | None = None

    @property
    def trigger(self) -> str:
        """Short name of what fired (``drift``, ``performance``, both joined) or ``none``."""
        kinds = [r.split(":", 1)[0] for r in self.reasons]
        return "+".join(kinds) if kinds else "none"


def feature_drift(
    reference: pl.DataFrame, recent: pl.DataFrame, features: Sequence[str] = KEY_FEATURES
) -> dict[str, float]:
    """PSI of each key feature present in both frames (NaN when a side is empty)."""
    return {
        name: population_stability(reference.get_column(name), recent.get_column(name))
        for name in features
        if name in reference.columns and name in recent.columns
    }


def live_recall(live: pl.DataFrame, budget: float, min_failures: int) -> float | None:
    """Recall at ``budget`` of live predictions (``probability``, ``road_test_failed``).

    None while fewer than ``min_failures`` road tests failed: a recall over a
    handful of failures moves by tens of points with one car.
    """
    y = live.get_column("road_test_failed").cast(pl.Int64).to_numpy()
    if int(y.sum()) < min_failures:
        return None
    return float(recall_at_budget(y, live.get_column("probability").to_numpy(), budget))


def decide_retraining(
    drift: Mapping[str, float],
    psi_threshold: float,
    live: float | None,
    test: float | None,
    drop_threshold: float,
) -> RetrainDecision:
    """Retrain when a key feature's PSI exceeds ``psi_threshold``, or live recall fell
    more than ``drop_threshold`` below the test recall."""
    drifted = {
        name: psi for name, psi in drift.items() if not math.isnan(psi) and psi > psi_threshold
    }
    reasons: list[str] = []
    if drifted:
        shown = ", ".join(f"{name} {psi:.2f}" for name, psi in sorted(drifted.items()))
        reasons.append(f"drift: PSI above {psi_threshold:g} for {shown}")
    if live is not None and test is not None and test - live > drop_threshold:
        reasons.append(
            f"performance: live recall {live:.2f} is {test - live:.2f} below the test "
            f"recall {test:.2f} (allowed drop {drop_threshold:g})"
        )
    return RetrainDecision(bool(reasons), tuple(reasons), drifted, live, test)
