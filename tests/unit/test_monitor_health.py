"""What a round of health checks means: per-service state, flags, the bounded buffer, checks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from roadtest.dashboard.data import health_summary
from roadtest.monitor.checks import Check, CheckFailedError, run_check, run_checks
from roadtest.monitor.health import (
    HEALTH_COLUMNS,
    CheckResult,
    ServiceState,
    keep_newest,
    newly_flagged,
    next_state,
    next_states,
    recovered,
    results_frame,
)

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def result(service: str, ok: bool, minute: int = 0) -> CheckResult:
    return CheckResult(service, T0 + timedelta(minutes=minute), ok, 3.0, "ok" if ok else "down")


def test_a_service_is_flagged_only_after_n_failures_in_a_row() -> None:
    state: ServiceState | None = None
    flags = []
    for minute, ok in enumerate([False, False, True, False, False, False, False]):
        state = next_state(state, result("api", ok, minute), unhealthy_after=3)
        flags.append((state.consecutive_failures, state.unhealthy))
    assert flags == [
        (1, False),
        (2, False),
        (0, False),
        (1, False),
        (2, False),
        (3, True),
        (4, True),
    ]


def test_one_success_clears_the_flag() -> None:
    flagged = ServiceState("lake", 5, True, result("lake", False))
    assert next_state(flagged, result("lake", True), unhealthy_after=3).unhealthy is False


def test_flags_and_recoveries_are_reported_once() -> None:
    start = next_states({}, [result("api", False), result("lake", True)], unhealthy_after=1)
    assert [s.service for s in newly_flagged({}, start)] == ["api"]
    again = next_states(start, [result("api", False, 1)], unhealthy_after=1)
    assert newly_flagged(start, again) == []
    assert again["lake"] is start["lake"]
    healed = next_states(again, [result("api", True, 2)], unhealthy_after=1)
    assert [s.service for s in recovered(again, healed)] == ["api"]
    assert recovered(healed, healed) == []


def test_the_pending_buffer_keeps_the_newest_and_counts_what_it_drops() -> None:
    pending = [result("api", False, m) for m in range(5)]
    kept, dropped = keep_newest(pending, 3)
    assert dropped == 2
    assert [r.checked_at.minute for r in kept] == [2, 3, 4]
    assert keep_newest(pending, 10) == (pending, 0)
    with pytest.raises(ValueError, match="at least one"):
        keep_newest(pending, 0)


def test_results_have_the_columns_the_dashboard_reads() -> None:
    frame = results_frame([result("api", True), result("api", False, 1)])
    assert frame.schema == HEALTH_COLUMNS
    summary = health_summary(frame)
    assert summary.row(0, named=True)["ok_share"] == 0.5
    assert results_frame([]).schema == HEALTH_COLUMNS


def test_a_check_that_raises_becomes_a_failed_result_without_secrets() -> None:
    def broken() -> str:
        raise OSError("password s3cret refused")

    failed = run_check(Check("warehouse", broken), redact=lambda t: t.replace("s3cret", "***"))
    assert not failed.ok
    assert failed.detail == "OSError: password *** refused"
    worded = run_check(Check("lake", lambda: (_ for _ in ()).throw(CheckFailedError("no lake"))))
    assert (worded.ok, worded.detail) == (False, "no lake")
    assert run_check(Check("api", lambda: "fine")).detail == "fine"


def test_a_check_slower_than_the_timeout_is_down_and_does_not_hold_the_round() -> None:
    def slow() -> str:
        time.sleep(5)
        return "late"

    started = time.monotonic()
    results = run_checks([Check("slow", slow), Check("fast", lambda: "ok")], timeout_s=0.3)
    assert time.monotonic() - started < 2
    assert [(r.service, r.ok) for r in results] == [("slow", False), ("fast", True)]
    assert results[0].detail == "no answer within 0.3 s"
