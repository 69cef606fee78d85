"""What a round of health checks means: results, per-service state, who is unhealthy.

Pure functions over plain values. One failed check is often a blip (a
restart, a slow query), so a service is flagged unhealthy only after
``unhealthy_after`` failures in a row, and one success clears the flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import polars as pl

HEALTH_COLUMNS: Final = pl.Schema(
    {
        "service": pl.String(),
        "checked_at": pl.Datetime("us", "UTC"),
        "ok": pl.Boolean(),
        "latency_ms": pl.Float64(),
        "detail": pl.String(),
    }
)
"""Columns of the warehouse's ``health_check`` table, as the dashboard reads them."""


@dataclass(frozen=True)
class CheckResult:
    """One check of one service: a dead service is a result like any other."""

    service: str
    checked_at: datetime
    ok: bool
    latency_ms: float
    detail: str


@dataclass(frozen=True)
class ServiceState:
    """A service's run of outcomes so far: how many checks failed in a row, flagged or not."""

    service: str
    consecutive_failures: int
    unhealthy: bool
    last: CheckResult


def next_state(
    previous: ServiceState | None, result: CheckResult, unhealthy_after: int
) -> ServiceState:
    """The state of ``result.service`` once ``result`` is known."""
    failures = 0 if result.ok else (previous.consecutive_failures if previous else 0) + 1
    return ServiceState(
        service=result.service,
        consecutive_failures=failures,
        unhealthy=failures >= unhealthy_after,
        last=result,
    )


def next_states(
    states: Mapping[str, ServiceState], results: Iterable[CheckResult], unhealthy_after: int
) -> dict[str, ServiceState]:
    """Every service's state after a round; services not checked this round keep theirs."""
    updated = dict(states)
    for result in results:
        updated[result.service] = next_state(updated.get(result.service), result, unhealthy_after)
    return updated


def newly_flagged(
    before: Mapping[str, ServiceState], after: Mapping[str, ServiceState]
) -> list[ServiceState]:
    """Services that became unhealthy in this round (each is logged once, not every round)."""
    return [
        state
        for name, state in sorted(after.items())
        if state.unhealthy and not (name in before and before[name].unhealthy)
    ]


def recovered(
    before: Mapping[str, ServiceState], after: Mapping[str, ServiceState]
) -> list[ServiceState]:
    """Services flagged unhealthy before this round and healthy again after it."""
    return [
        state
        for name, state in sorted(after.items())
        if not state.unhealthy and name in before and before[name].unhealthy
    ]


def results_frame(results: Sequence[CheckResult]) -> pl.DataFrame:
    """Results as rows of the ``health_check`` table."""
    return pl.DataFrame(
        [(r.service, r.checked_at, r.ok, r.latency_ms, r.detail) for r in results],
        schema=HEALTH_COLUMNS,
        orient="row",
    )


def keep_newest(pending: Sequence[CheckResult], limit: int) -> tuple[list[CheckResult], int]:
    """The newest ``limit`` results waiting for the warehouse, and how many older ones go.

    While the warehouse is down results wait in memory; a bound keeps a long
    outage from exhausting the worker, and the newest history matters most.
    """
    if limit < 1:
        raise ValueError(f"the monitor must keep at least one pending check, got {limit}")
    dropped = max(0, len(pending) - limit)
    return list(pending[dropped:]), dropped
