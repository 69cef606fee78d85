"""Prometheus metrics of the worker: service health and what the worker's jobs did.

The monitor owns its registry (nothing is registered at import), so tests and
several monitors in one process never share values by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from roadtest.monitor.activity import JobActivity
from roadtest.monitor.health import CheckResult, ServiceState

CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MonitorMetrics:
    """The metrics one monitor records."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.up = Gauge(
            "roadtest_service_up",
            "1 when the latest check of the service passed, 0 when it failed.",
            ["service"],
            registry=self.registry,
        )
        self.unhealthy = Gauge(
            "roadtest_service_unhealthy",
            "1 when the service failed its last N checks in a row (ROADTEST_MONITOR_UNHEALTHY_"
            "AFTER), 0 otherwise.",
            ["service"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "roadtest_health_check_duration_seconds",
            "Time a health check took, by service.",
            ["service"],
            buckets=CHECK_BUCKETS,
            registry=self.registry,
        )
        self.checks = Counter(
            "roadtest_health_checks",
            "Health checks run, by service and outcome (ok or failed).",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "roadtest_health_checks_pending",
            "Health checks kept in memory until the warehouse can be written.",
            registry=self.registry,
        )
        self.dropped = Counter(
            "roadtest_health_checks_dropped",
            "Health checks dropped because the warehouse stayed down longer than the buffer.",
            registry=self.registry,
        )
        self.last_success = Gauge(
            "roadtest_job_last_success_timestamp_seconds",
            "Unix time at which the latest successful run of a job ended (etl, training, "
            "retraining).",
            ["job"],
            registry=self.registry,
        )
        self.runs = Gauge(
            "roadtest_job_runs",
            "Recorded runs of a job by outcome (etl: loaded, nothing new, failed; training and "
            "retraining: MLflow run status).",
            ["job", "outcome"],
            registry=self.registry,
        )

    def observe_checks(self, results: Iterable[CheckResult]) -> None:
        """Record one round of checks."""
        for result in results:
            self.up.labels(result.service).set(1 if result.ok else 0)
            self.latency.labels(result.service).observe(result.latency_ms / 1000)
            self.checks.labels(result.service, "ok" if result.ok else "failed").inc()

    def observe_states(self, states: Iterable[ServiceState]) -> None:
        """Flag (1) or clear (0) each service's unhealthy gauge."""
        for state in states:
            self.unhealthy.labels(state.service).set(1 if state.unhealthy else 0)

    def observe_buffer(self, pending: int, dropped: int) -> None:
        """Checks waiting for the warehouse, and those just given up."""
        self.pending.set(pending)
        if dropped:
            self.dropped.inc(dropped)

    def observe_activity(self, activities: Iterable[JobActivity]) -> None:
        """What the worker's jobs did, as stored."""
        for activity in activities:
            if activity.last_success is not None:
                self.last_success.labels(activity.job).set(activity.last_success.timestamp())
            for outcome, count in activity.runs_by_outcome.items():
                self.runs.labels(activity.job, outcome).set(count)

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> WSGIServer:
        """Expose ``/metrics`` on ``host:port`` from a background thread; returns the server."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return server
