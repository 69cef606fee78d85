"""The worker's job activity from stored runs, and how it reaches the Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from roadtest.monitor.activity import TRAINING_RUNS_SCHEMA, etl_activity, training_activity
from roadtest.monitor.health import CheckResult
from roadtest.monitor.metrics import MonitorMetrics

D1, D2, D3 = (datetime(2026, 3, day, tzinfo=UTC) for day in (1, 2, 3))


def test_etl_activity_counts_outcomes_and_ignores_failed_runs_for_the_last_success() -> None:
    runs = pl.DataFrame(
        {"outcome": ["loaded", "nothing new", "failed"], "finished_at": [D1, D2, D3]},
        schema={"outcome": pl.String(), "finished_at": pl.Datetime("us", "UTC")},
    )
    activity = etl_activity(runs)
    assert dict(activity.runs_by_outcome) == {"failed": 1, "loaded": 1, "nothing new": 1}
    assert activity.last_success == D2
    assert etl_activity(runs.head(0)).last_success is None


def test_retrainings_are_the_training_runs_with_a_trigger() -> None:
    runs = pl.DataFrame(
        [("FINISHED", D1, None), ("FINISHED", D2, "schedule"), ("FAILED", D3, "drift")],
        schema=TRAINING_RUNS_SCHEMA,
        orient="row",
    )
    training, retraining = training_activity(runs)
    assert dict(training.runs_by_outcome) == {"FAILED": 1, "FINISHED": 2}
    assert training.last_success == D2
    assert dict(retraining.runs_by_outcome) == {"FAILED": 1, "FINISHED": 1}
    assert retraining.last_success == D2


def test_metrics_show_service_state_latency_and_job_activity() -> None:
    metrics = MonitorMetrics()
    metrics.observe_checks(
        [CheckResult("api", D1, True, 12.0, "ok"), CheckResult("lake", D1, False, 3.0, "x")]
    )
    metrics.observe_buffer(pending=4, dropped=2)
    runs = pl.DataFrame(
        {"outcome": ["loaded"], "finished_at": [D2]},
        schema={"outcome": pl.String(), "finished_at": pl.Datetime("us", "UTC")},
    )
    metrics.observe_activity([etl_activity(runs)])
    text = metrics.render().decode()
    assert 'roadtest_service_up{service="api"} 1.0' in text
    assert 'roadtest_service_up{service="lake"} 0.0' in text
    assert 'roadtest_health_checks_total{outcome="failed",service="lake"} 1.0' in text
    assert 'roadtest_health_check_duration_seconds_count{service="api"} 1.0' in text
    assert "roadtest_health_checks_pending 4.0" in text
    assert "roadtest_health_checks_dropped_total 2.0" in text
    assert 'roadtest_job_last_success_timestamp_seconds{job="etl"} 1.7724096e+09' in text
    assert D2.timestamp() == 1.7724096e09
    assert 'roadtest_job_runs{job="etl",outcome="loaded"} 1.0' in text
