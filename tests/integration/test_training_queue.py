"""The training-run queue of the warehouse, on DuckDB and PostgreSQL.

Every test takes ``warehouse`` or ``warehouse_url`` and so runs once per backend.
The concurrency tests give each thread its own engine, as separate processes
would have.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from roadtest.warehouse import Warehouse, connect
from roadtest.warehouse.training_runs import (
    ActiveRunError,
    RunRecorder,
    StepState,
    claim_next_run,
    enqueue_run,
    read_run,
    record_failure,
    record_heartbeat,
    record_success,
    run_recorded,
)

STALE_S = 600.0
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
REQUEST = {"models": ["logreg", "gru"], "max_epochs": 2, "seed": 7}

T = TypeVar("T")


@dataclass(frozen=True)
class FakeOutcome:
    """What a training run returns, without training."""

    run_id: str = "mlflow-run-1"
    registered_version: str = "4"

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "registered_version": self.registered_version, "pr_auc": 0.5}


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def read(warehouse: Warehouse, run_id: str, now: dt.datetime = T0) -> Any:
    row = read_run(warehouse, run_id, stale_after_s=STALE_S, now=now)
    assert row is not None
    return row


def test_a_queued_run_blocks_another_until_it_ends(warehouse: Warehouse) -> None:
    queued = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, now=T0)
    stored = read(warehouse, queued.id)
    assert (stored.state, stored.runner, stored.started_at) == ("queued", None, None)
    assert stored.request == REQUEST
    assert stored.requested_at == T0
    assert stored.steps == {}
    with pytest.raises(ActiveRunError, match=f"{queued.id} is queued") as raised:
        enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, now=at(1))
    assert raised.value.active.id == queued.id
    assert record_failure(warehouse, queued.id, "cancelled by a test", now=at(2))
    following = enqueue_run(warehouse, {}, stale_after_s=STALE_S, now=at(3))
    assert following.id != queued.id
    assert warehouse.count_rows("training_runs") == 2


def test_a_run_the_api_trains_is_running_at_once_and_never_claimed(warehouse: Warehouse) -> None:
    run = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, runner="api", now=T0)
    stored = read(warehouse, run.id)
    assert (stored.state, stored.runner, stored.started_at, stored.heartbeat_at) == (
        "running",
        "api",
        T0,
        T0,
    )
    assert claim_next_run(warehouse, "dagster", stale_after_s=STALE_S, now=at(1)) is None
    with pytest.raises(ActiveRunError, match="is running"):
        enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, now=at(1))


def test_a_worker_claims_a_queued_run_once(warehouse: Warehouse) -> None:
    queued = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, now=T0)
    claimed = claim_next_run(warehouse, "dagster", stale_after_s=STALE_S, now=at(5))
    assert claimed is not None and claimed.id == queued.id
    assert (claimed.state, claimed.runner, claimed.started_at) == ("running", "dagster", at(5))
    assert claimed.request == REQUEST
    assert claim_next_run(warehouse, "dagster", stale_after_s=STALE_S, now=at(6)) is None


def test_a_run_queued_too_long_fails_and_lets_a_new_one_in(warehouse: Warehouse) -> None:
    forgotten = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, now=T0)
    later = at(STALE_S + 1)
    fresh = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, now=later)
    lost = read(warehouse, forgotten.id, later)
    assert lost.state == "failed" and lost.finished_at == later
    assert "No worker took this run within 600 s" in lost.error
    assert "ROADTEST_TRAINING_RUNNER=worker" in lost.error
    assert read(warehouse, fresh.id, later).state == "queued"


def test_a_silent_running_run_is_marked_lost_when_seen(warehouse: Warehouse) -> None:
    run = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, runner="api", now=T0)
    assert record_heartbeat(warehouse, run.id, now=at(500))
    assert read(warehouse, run.id, at(STALE_S + 1)).state == "running"
    lost = read(warehouse, run.id, at(500 + STALE_S + 1))
    assert lost.state == "failed"
    assert "gave no sign of life for more than 600 s" in lost.error
    assert "runner (api)" in lost.error
    assert not record_heartbeat(warehouse, run.id, now=at(2000))


def test_a_stale_queued_run_is_failed_rather_than_started_late(warehouse: Warehouse) -> None:
    forgotten = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, now=T0)
    later = at(STALE_S + 1)
    assert claim_next_run(warehouse, "dagster", stale_after_s=STALE_S, now=later) is None
    assert read(warehouse, forgotten.id, later).state == "failed"


def test_progress_throttled_and_outcome_recorded(warehouse: Warehouse) -> None:
    run = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, runner="api", now=T0)
    clock = [100.0]
    with RunRecorder(warehouse, run.id, heartbeat_s=3600, clock=lambda: clock[0]) as recorder:
        recorder.start("train gru", total=4)
        assert read(warehouse, run.id).steps == {"train gru": StepState(0, 4, False)}
        clock[0] += 0.2
        recorder.advance("train gru")
        assert read(warehouse, run.id).steps["train gru"].done == 0
        clock[0] += 1.0
        recorder.advance("train gru", 2)
        assert read(warehouse, run.id).steps["train gru"].done == 3
        recorder.finish("train gru")
        recorder.start("evaluate and log")
        clock[0] += 0.1
        recorder.advance("evaluate and log")
    steps = read(warehouse, run.id).steps
    assert steps["train gru"] == StepState(4, 4, True)
    assert steps["evaluate and log"] == StepState(1, None, False)
    record_success(warehouse, run.id, FakeOutcome(), now=at(60))
    done = read(warehouse, run.id, at(60))
    assert (done.state, done.finished_at, done.mlflow_run_id, done.model_version) == (
        "succeeded",
        at(60),
        "mlflow-run-1",
        "4",
    )
    assert done.result == FakeOutcome().to_dict()
    assert not record_failure(warehouse, run.id, "too late")
    assert read(warehouse, run.id, at(61)).state == "succeeded"


def test_the_recorder_beats_while_a_step_is_silent(warehouse: Warehouse) -> None:
    run = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, runner="api", now=T0)
    with RunRecorder(warehouse, run.id, heartbeat_s=0.05):
        deadline = time.monotonic() + 10
        while read(warehouse, run.id).heartbeat_at == T0:
            assert time.monotonic() < deadline, "no heartbeat was written"
            time.sleep(0.05)
    assert read(warehouse, run.id).heartbeat_at > T0


def test_a_failing_run_records_its_error_and_raises_it(warehouse: Warehouse) -> None:
    run = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, runner="api")

    def work(progress: RunRecorder) -> FakeOutcome:
        progress.start("prepare")
        raise ValueError("the warehouse has no labelled vehicle")

    with pytest.raises(ValueError, match="no labelled vehicle"):
        run_recorded(warehouse, run.id, work, heartbeat_s=3600)
    failed = read(warehouse, run.id, dt.datetime.now(dt.UTC))
    assert failed.state == "failed"
    assert failed.error == "the warehouse has no labelled vehicle"
    assert failed.steps == {"prepare": StepState(0, None, False)}


def test_a_run_marked_lost_that_finishes_after_all_says_so(warehouse: Warehouse) -> None:
    run = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S, runner="api", now=T0)
    assert read(warehouse, run.id, at(STALE_S + 1)).state == "failed"
    record_success(warehouse, run.id, FakeOutcome(), now=at(STALE_S + 2))
    done = read(warehouse, run.id, at(STALE_S + 3))
    assert (done.state, done.error, done.model_version) == ("succeeded", None, "4")


def race(warehouse_url: str, attempt: Callable[[Warehouse], T], threads: int = 4) -> list[Any]:
    """Run ``attempt`` in several threads at once, each on its own engine; their results.

    Each engine connects before the start, so that the attempts, not the connection
    set-ups, overlap.
    """
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def contender(index: int) -> None:
        own = connect(warehouse_url)
        try:
            own.count_rows("training_runs")
            barrier.wait()
            results[index] = attempt(own)
        except ActiveRunError as error:
            results[index] = error
        finally:
            own.dispose()

    workers = [threading.Thread(target=contender, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_of_simultaneous_starts_exactly_one_is_queued(warehouse_url: str) -> None:
    connect(warehouse_url).migrate()
    results = race(warehouse_url, lambda wh: enqueue_run(wh, REQUEST, stale_after_s=STALE_S))
    refused = [r for r in results if isinstance(r, ActiveRunError)]
    assert len(refused) == len(results) - 1, results
    warehouse = connect(warehouse_url)
    assert warehouse.count_rows("training_runs") == 1
    warehouse.dispose()


def test_of_simultaneous_claims_exactly_one_wins(warehouse_url: str) -> None:
    warehouse = connect(warehouse_url)
    warehouse.migrate()
    queued = enqueue_run(warehouse, REQUEST, stale_after_s=STALE_S)
    results = race(warehouse_url, lambda wh: claim_next_run(wh, "dagster", stale_after_s=STALE_S))
    claims = [r for r in results if r is not None]
    assert [c.id for c in claims] == [queued.id], results
    warehouse.dispose()
