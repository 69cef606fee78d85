"""Health monitoring of the platform's services, run by the worker.

``checks`` probes each service, ``health`` decides what the results mean,
``recorder`` keeps the history in the warehouse, ``metrics`` exposes it to
Prometheus and ``loop`` runs rounds on an interval. ``drift`` holds the
retraining triggers' domain logic (feature drift and live performance).
"""

from roadtest.monitor.health import CheckResult, ServiceState
from roadtest.monitor.loop import Monitor, RoundReport

__all__ = ["CheckResult", "Monitor", "RoundReport", "ServiceState"]
