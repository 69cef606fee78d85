"""The monitor loop: check every service, record, flag, expose metrics, sleep, again.

Nothing here decides anything (``health`` does) or talks to a service itself
(``checks`` and ``recorder`` do); the loop only runs one round after another
and keeps the per-service state between rounds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from roadtest.config import Settings
from roadtest.monitor.checks import Check, checks_from_settings, redactor_of, run_checks
from roadtest.monitor.health import (
    CheckResult,
    ServiceState,
    newly_flagged,
    next_states,
    recovered,
)
from roadtest.monitor.metrics import MonitorMetrics
from roadtest.monitor.recorder import HealthRecorder, WriteOutcome, read_activity

log = logging.getLogger("roadtest.monitor")

ActivityReader = Callable[[Settings], list[Any]]


@dataclass(frozen=True)
class RoundReport:
    """One round: every result, who is flagged unhealthy, and what reached the warehouse."""

    results: Sequence[CheckResult]
    unhealthy: Sequence[str]
    write: WriteOutcome

    @property
    def all_ok(self) -> bool:
        """Every check of the round passed."""
        return all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """The ``roadtest monitor --json`` line of this round."""
        return {
            "checked_at": min((r.checked_at for r in self.results), default=None),
            "checks": [
                {
                    "service": r.service,
                    "ok": r.ok,
                    "latency_ms": round(r.latency_ms, 1),
                    "detail": r.detail,
                }
                for r in self.results
            ],
            "unhealthy": list(self.unhealthy),
            "written": self.write.written,
            "pending": self.write.pending,
            "write_error": self.write.error,
        }


@dataclass
class Monitor:
    """The checks of one installation, their state between rounds and the metrics."""

    settings: Settings
    checks: Sequence[Check]
    recorder: HealthRecorder
    metrics: MonitorMetrics = field(default_factory=MonitorMetrics)
    read_activity: ActivityReader = read_activity
    states: dict[str, ServiceState] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> Monitor:
        """A monitor of every service the settings configure."""
        recorder = HealthRecorder(settings.resolved_warehouse_url(), settings.monitor_buffer_rows)
        return cls(settings, checks_from_settings(settings), recorder)

    def run_round(self) -> RoundReport:
        """Check everything once, record the results and update the flags and metrics."""
        results = run_checks(
            self.checks, self.settings.monitor_timeout_seconds, redactor_of(self.settings)
        )
        before = self.states
        self.states = next_states(before, results, self.settings.monitor_unhealthy_after)
        for state in newly_flagged(before, self.states):
            log.error(
                "UNHEALTHY %s: %d failed checks in a row; last: %s",
                state.service,
                state.consecutive_failures,
                state.last.detail,
            )
        for state in recovered(before, self.states):
            log.warning("RECOVERED %s: %s", state.service, state.last.detail)
        self.metrics.observe_checks(results)
        self.metrics.observe_states(self.states.values())
        write = self.recorder.record(results)
        self.metrics.observe_buffer(write.pending, write.dropped)
        self._observe_activity(results)
        unhealthy = sorted(name for name, s in self.states.items() if s.unhealthy)
        return RoundReport(results, unhealthy, write)

    def _observe_activity(self, results: Sequence[CheckResult]) -> None:
        """Job activity, read only when the warehouse and registry answered this round."""
        up = {r.service for r in results if r.ok}
        if not {"warehouse", "registry"} <= up:
            return
        try:
            self.metrics.observe_activity(self.read_activity(self.settings))
        except Exception as error:
            log.warning("cannot read the worker's job activity: %s", error)

    def run_forever(
        self,
        stop: threading.Event,
        on_round: Callable[[RoundReport], None] | None = None,
    ) -> None:
        """Run a round every ``monitor_interval_seconds`` until ``stop`` is set."""
        while not stop.is_set():
            report = self.run_round()
            if on_round is not None:
                on_round(report)
            stop.wait(self.settings.monitor_interval_seconds)
