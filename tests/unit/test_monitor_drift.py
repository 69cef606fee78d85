"""The retraining decision: feature drift (PSI) and live performance against thresholds."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from roadtest.monitor.drift import decide_retraining, feature_drift, live_recall


def vehicles(seed: int, shift: float, n: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "n_nok": rng.poisson(2.0 + shift, n),
            "line_time_s": rng.normal(3600 + 600 * shift, 300, n),
            "motor": rng.choice(["DHS", "CWL"], n, p=[0.8 - 0.3 * shift, 0.2 + 0.3 * shift]),
        }
    )


def test_the_same_population_does_not_drift_and_a_shifted_one_does() -> None:
    reference = vehicles(1, 0.0)
    same = feature_drift(reference, vehicles(2, 0.0))
    shifted = feature_drift(reference, vehicles(3, 1.0))
    assert set(same) == {"n_nok", "line_time_s", "motor"}
    assert max(same.values()) < 0.05
    assert min(shifted.values()) > 0.25


def test_drift_above_the_threshold_triggers_and_below_does_not() -> None:
    drift = {"n_nok": 0.4, "motor": 0.05, "cor": math.nan}
    fired = decide_retraining(drift, 0.25, None, None, 0.1)
    assert fired.retrain and fired.trigger == "drift"
    assert dict(fired.drifted) == {"n_nok": 0.4}
    assert "n_nok 0.40" in fired.reasons[0]
    quiet = decide_retraining(drift, 0.5, None, None, 0.1)
    assert not quiet.retrain and quiet.trigger == "none" and quiet.reasons == ()


def test_a_drop_of_live_recall_beyond_the_threshold_triggers() -> None:
    fired = decide_retraining({}, 0.25, live=0.45, test=0.70, drop_threshold=0.10)
    assert fired.retrain and fired.trigger == "performance"
    assert "0.25 below" in fired.reasons[0]
    assert not decide_retraining({}, 0.25, live=0.65, test=0.70, drop_threshold=0.10).retrain
    assert not decide_retraining({}, 0.25, live=None, test=0.70, drop_threshold=0.10).retrain
    both = decide_retraining({"n_nok": 1.0}, 0.25, live=0.1, test=0.7, drop_threshold=0.1)
    assert both.trigger == "drift+performance"


def live(failed: list[bool], probability: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"road_test_failed": failed, "probability": probability})


def test_live_recall_waits_for_enough_failures() -> None:
    frame = live([True, True, False, False, False], [0.9, 0.1, 0.8, 0.2, 0.3])
    assert live_recall(frame, 0.2, min_failures=3) is None
    assert live_recall(frame, 0.2, min_failures=2) == pytest.approx(0.5)
