"""Prometheus metrics of one API app: traffic, latency, scores and the model served.

Each app owns its registry, so several apps (tests, one process per worker)
never share counters by accident. When ``PROMETHEUS_MULTIPROC_DIR`` is set
(``roadtest serve --workers N`` sets it) the values live in files there and
``/metrics`` adds up every worker.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


class ApiMetrics:
    """The metrics one app records."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "roadtest_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "roadtest_http_request_duration_seconds",
            "Time from request to complete response, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Histogram(
            "roadtest_prediction_probability",
            "Distribution of the predicted road-test failure probabilities.",
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "roadtest_predictions",
            "Vehicles scored, by how the vehicle was given (knr or rows).",
            ["source"],
            registry=self.registry,
        )
        self.champion = Gauge(
            "roadtest_champion_info",
            "1 for the registered model version this process serves.",
            ["version"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.load_errors = Counter(
            "roadtest_model_load_errors",
            "Attempts to load a champion version that failed (the previous model kept serving).",
            registry=self.registry,
        )
        self.model_loads = Counter(
            "roadtest_model_loads",
            "Champion versions loaded and put into service.",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_scores(self, probabilities: list[float], source: str) -> None:
        """Record the probabilities just served."""
        for probability in probabilities:
            self.scores.observe(probability)
        self.predictions.labels(source).inc(len(probabilities))

    def set_champion(self, version: str) -> None:
        """Mark ``version`` as the one served."""
        self.champion.clear()
        self.champion.labels(version).set(1)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
