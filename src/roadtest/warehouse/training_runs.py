"""The ``training_runs`` table: training runs asked for through the API, shared by every process.

A run's row is its whole story: the request, who runs it, progress per step,
a heartbeat, and the outcome. Every API process and the worker read and write
the same rows, so any of them answers for any run, also after a restart.
Two rules keep the queue sound across processes:

* At most one run is active (queued or running). Checking and inserting
  happen under one lock: on PostgreSQL a transaction-scoped advisory lock,
  which every process on the database shares; on DuckDB the file admits one
  process per transaction, and this module's lock orders the threads of that
  process.
* A run whose runner gave no sign of life (heartbeat, or its request time
  while queued) for longer than the stale limit is lost: it is marked failed
  when seen, so a killed process cannot block training for good.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, Protocol, TypeVar

import sqlalchemy as sa

from roadtest.warehouse.errors import WarehouseError
from roadtest.warehouse.schema import TRAINING_RUNS, sql_table
from roadtest.warehouse.store import Warehouse, utc_now

logger = logging.getLogger("roadtest.training_runs")

RunState = Literal["queued", "running", "succeeded", "failed"]
ACTIVE_STATES: Final[tuple[RunState, ...]] = ("queued", "running")

PROGRESS_WRITE_S: Final = 1.0
"""Least time between two progress writes of one run; step starts and ends are always written."""

HEARTBEAT_MAX_S: Final = 60.0
"""A running run writes its heartbeat at least this often (more often when the limit is short)."""

_PG_QUEUE_LOCK: Final = 7_052_024
"""Advisory lock key: processes changing the queue on one PostgreSQL database take turns."""

_LOCAL_LOCK: Final = threading.Lock()
"""Orders this process's queue changes on DuckDB, which has no lock shared by connections."""


class Outcome(Protocol):
    """What is kept of a finished run (``training.pipeline.TrainResult``)."""

    @property
    def run_id(self) -> str:
        """MLflow run id."""

    @property
    def registered_version(self) -> str:
        """Version registered by the run."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


@dataclass(frozen=True)
class StepState:
    """Progress of one named step."""

    done: int = 0
    total: int | None = None
    finished: bool = False


@dataclass(frozen=True)
class TrainingRunRow:
    """One row of ``training_runs``, with its JSON columns parsed."""

    id: str
    requested_at: dt.datetime
    request: dict[str, Any]
    state: RunState
    runner: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    heartbeat_at: dt.datetime | None = None
    steps: Mapping[str, StepState] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    mlflow_run_id: str | None = None
    model_version: str | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE_STATES

    @property
    def last_sign_of_life(self) -> dt.datetime:
        """When its runner last showed it was alive (its request time while queued)."""
        return self.heartbeat_at or self.started_at or self.requested_at


class ActiveRunError(WarehouseError):
    """Another run is queued or running; only one runs at a time."""

    def __init__(self, active: TrainingRunRow) -> None:
        super().__init__(
            f"Training run {active.id} is {active.state}; wait for it to finish "
            f"(GET /v1/training-runs/{active.id}) before starting another."
        )
        self.active = active


def new_run_id() -> str:
    """A fresh run id: 32 hex digits (what the API's run path accepts)."""
    return uuid.uuid4().hex


def heartbeat_interval(stale_after_s: float) -> float:
    """How often a running run signs of life: several times within the stale limit."""
    return min(HEARTBEAT_MAX_S, stale_after_s / 5)


def _table() -> sa.Table:
    return sql_table(TRAINING_RUNS, sa.MetaData())


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    """An instant read back in UTC (DuckDB answers in Etc/UTC, PostgreSQL in UTC)."""
    return None if value is None else value.astimezone(dt.UTC)


def _json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def steps_json(steps: Mapping[str, StepState]) -> str:
    """The ``steps`` column's text."""
    return json.dumps({name: asdict(state) for name, state in steps.items()})


def _row(values: sa.RowMapping) -> TrainingRunRow:
    requested_at = _instant(values["requested_at"])
    assert requested_at is not None
    return TrainingRunRow(
        id=values["id"],
        requested_at=requested_at,
        request=json.loads(values["request"]),
        state=values["state"],
        runner=values["runner"],
        started_at=_instant(values["started_at"]),
        finished_at=_instant(values["finished_at"]),
        heartbeat_at=_instant(values["heartbeat_at"]),
        steps={name: StepState(**step) for name, step in json.loads(values["steps"]).items()},
        result=_json(values["result"]),
        mlflow_run_id=values["mlflow_run_id"],
        model_version=values["model_version"],
        error=values["error"],
    )


@contextmanager
def _queue_transaction(warehouse: Warehouse) -> Iterator[sa.Connection]:
    """A transaction holding the queue lock (see the module docstring)."""
    if warehouse.backend == "postgresql":
        with warehouse.engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_QUEUE_LOCK)))
            yield conn
        return
    with _LOCAL_LOCK, warehouse.engine.begin() as conn:
        yield conn


@contextmanager
def _row_transaction(warehouse: Warehouse) -> Iterator[sa.Connection]:
    """A transaction changing one run's row: PostgreSQL locks the row itself; DuckDB, whose
    concurrent updates of one row conflict, takes this process's lock."""
    if warehouse.backend == "postgresql":
        with warehouse.engine.begin() as conn:
            yield conn
        return
    with _LOCAL_LOCK, warehouse.engine.begin() as conn:
        yield conn


def _active_rows(conn: sa.Connection) -> list[TrainingRunRow]:
    table = _table()
    query = sa.select(table).where(table.c.state.in_(ACTIVE_STATES)).order_by(table.c.requested_at)
    return [_row(r) for r in conn.execute(query).mappings()]


def _lost_reason(row: TrainingRunRow, stale_after_s: float) -> str:
    last = row.last_sign_of_life.isoformat(timespec="seconds")
    if row.state == "queued":
        return (
            f"No worker took this run within {stale_after_s:g} s of its request ({last}): "
            "the API queues runs for the orchestrator (ROADTEST_TRAINING_RUNNER=worker), so "
            "check that the worker (`roadtest orchestrate`) runs with the same setting, then "
            "start a new run."
        )
    return (
        f"The run was lost: its runner ({row.runner or 'unknown'}) gave no sign of life for "
        f"more than {stale_after_s:g} s (last at {last}), so its process was stopped or "
        "crashed; the MLflow run, if any, shows how far it got. Start a new run."
    )


def _expire_if_stale(
    conn: sa.Connection, row: TrainingRunRow, stale_after_s: float, now: dt.datetime
) -> bool:
    """Mark ``row`` failed if it is active and silent past the limit; whether it was."""
    cutoff = now - dt.timedelta(seconds=stale_after_s)
    if not row.active or row.last_sign_of_life >= cutoff:
        return False
    table = _table()
    last = sa.func.coalesce(table.c.heartbeat_at, table.c.started_at, table.c.requested_at)
    changed = conn.execute(
        table.update()
        .where(table.c.id == row.id, table.c.state == row.state, last < cutoff)
        .values(state="failed", finished_at=now, error=_lost_reason(row, stale_after_s))
    )
    return bool(changed.rowcount)


def _read(conn: sa.Connection, run_id: str) -> TrainingRunRow | None:
    table = _table()
    found = conn.execute(sa.select(table).where(table.c.id == run_id)).mappings().first()
    return None if found is None else _row(found)


def enqueue_run(
    warehouse: Warehouse,
    request: Mapping[str, Any],
    *,
    stale_after_s: float,
    runner: str | None = None,
    now: dt.datetime | None = None,
) -> TrainingRunRow:
    """Add a run asking for ``request``, or raise ``ActiveRunError`` while another is active.

    Without ``runner`` the run waits, queued, for a worker to claim it; with one
    (``api``) it is claimed at once, so no worker can take it too. Lost runs are
    marked failed first, so they do not block the new one.
    """
    moment = now or utc_now()
    with _queue_transaction(warehouse) as conn:
        for row in _active_rows(conn):
            if not _expire_if_stale(conn, row, stale_after_s, moment):
                raise ActiveRunError(row)
        row = TrainingRunRow(
            id=new_run_id(),
            requested_at=moment,
            request=dict(request),
            state="queued" if runner is None else "running",
            runner=runner,
            started_at=None if runner is None else moment,
            heartbeat_at=None if runner is None else moment,
        )
        conn.execute(
            _table()
            .insert()
            .values(
                id=row.id,
                requested_at=row.requested_at,
                request=json.dumps(row.request),
                state=row.state,
                runner=row.runner,
                started_at=row.started_at,
                heartbeat_at=row.heartbeat_at,
                steps=steps_json(row.steps),
            )
        )
    return row


def claim_next_run(
    warehouse: Warehouse, runner: str, *, stale_after_s: float, now: dt.datetime | None = None
) -> TrainingRunRow | None:
    """Take the oldest queued run for ``runner`` (queued → running); None when none waits.

    Runs queued for longer than the limit are marked failed instead of started
    late. The update is guarded by the state, so of two claimers only one wins.
    """
    moment = now or utc_now()
    table = _table()
    with _queue_transaction(warehouse) as conn:
        for row in _active_rows(conn):
            if row.state != "queued" or _expire_if_stale(conn, row, stale_after_s, moment):
                continue
            claimed = conn.execute(
                table.update()
                .where(table.c.id == row.id, table.c.state == "queued")
                .values(state="running", runner=runner, started_at=moment, heartbeat_at=moment)
            )
            if claimed.rowcount:
                return _read(conn, row.id)
    return None


def read_run(
    warehouse: Warehouse, run_id: str, *, stale_after_s: float, now: dt.datetime | None = None
) -> TrainingRunRow | None:
    """The run ``run_id`` (None when unknown), marked failed first if it is lost."""
    with warehouse.engine.connect() as conn:
        row = _read(conn, run_id)
    if row is None or not row.active:
        return row
    moment = now or utc_now()
    with _row_transaction(warehouse) as conn:
        if _expire_if_stale(conn, row, stale_after_s, moment):
            return _read(conn, run_id)
    return row


def _update_running(warehouse: Warehouse, run_id: str, **values: Any) -> bool:
    table = _table()
    with _row_transaction(warehouse) as conn:
        changed = conn.execute(
            table.update().where(table.c.id == run_id, table.c.state == "running").values(**values)
        )
    return bool(changed.rowcount)


def record_steps(
    warehouse: Warehouse,
    run_id: str,
    steps: Mapping[str, StepState],
    now: dt.datetime | None = None,
) -> bool:
    """Store a running run's progress (it is a sign of life too); False if it is not running."""
    moment = now or utc_now()
    return _update_running(warehouse, run_id, steps=steps_json(steps), heartbeat_at=moment)


def record_heartbeat(warehouse: Warehouse, run_id: str, now: dt.datetime | None = None) -> bool:
    """A running run is alive; False if it is not running (any more)."""
    return _update_running(warehouse, run_id, heartbeat_at=now or utc_now())


def record_success(
    warehouse: Warehouse, run_id: str, outcome: Outcome, now: dt.datetime | None = None
) -> None:
    """The run registered a model: its result, whatever state the row was in.

    A run marked lost that finishes after all did register its version, so the
    row says so (and loses the error) rather than hide a model that exists.
    """
    moment = now or utc_now()
    table = _table()
    with _row_transaction(warehouse) as conn:
        conn.execute(
            table.update()
            .where(table.c.id == run_id)
            .values(
                state="succeeded",
                finished_at=moment,
                heartbeat_at=moment,
                result=json.dumps(outcome.to_dict()),
                mlflow_run_id=outcome.run_id,
                model_version=outcome.registered_version,
                error=None,
            )
        )


def record_failure(
    warehouse: Warehouse, run_id: str, error: str, now: dt.datetime | None = None
) -> bool:
    """Mark an active run failed with ``error``; False if it had already ended (kept as it is)."""
    moment = now or utc_now()
    table = _table()
    with _row_transaction(warehouse) as conn:
        changed = conn.execute(
            table.update()
            .where(table.c.id == run_id, table.c.state.in_(ACTIVE_STATES))
            .values(state="failed", finished_at=moment, error=error)
        )
    return bool(changed.rowcount)


def describe_error(error: BaseException) -> str:
    """An error as the row keeps it: its message, or its type when it has none."""
    return str(error).strip() or type(error).__name__


class RunRecorder:
    """The ``Progress`` sink of one run: keeps its steps and writes them to its row.

    Step starts and ends are written at once, advances at most once per
    ``PROGRESS_WRITE_S`` (a recurrent model advances per batch, many times a
    second). While the block lasts a thread writes a heartbeat every
    ``heartbeat_s``, so a step that reports nothing for long (a large baseline
    fit) is not taken for lost. A failed write is logged and made up by the
    next one: the training matters more than its progress bar.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        run_id: str,
        heartbeat_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._warehouse = warehouse
        self._run_id = run_id
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._steps: dict[str, StepState] = {}
        self._lock = threading.Lock()
        self._last_write = float("-inf")
        self._unwritten = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> RunRecorder:
        self._beat = threading.Thread(
            target=self._heartbeat, name=f"heartbeat-{self._run_id[:8]}", daemon=True
        )
        self._beat.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with self._lock:
            if self._unwritten:
                self._write()

    @property
    def steps(self) -> dict[str, StepState]:
        """The steps so far."""
        with self._lock:
            return dict(self._steps)

    def start(self, step: str, total: int | None = None) -> None:
        """A step begins."""
        with self._lock:
            self._steps[step] = StepState(total=total)
            self._write()

    def advance(self, step: str, amount: int = 1) -> None:
        """A step moved on."""
        with self._lock:
            state = self._steps.get(step, StepState())
            self._steps[step] = StepState(state.done + amount, state.total, state.finished)
            self._unwritten = True
            if self._clock() - self._last_write >= PROGRESS_WRITE_S:
                self._write()

    def finish(self, step: str) -> None:
        """A step is complete."""
        with self._lock:
            state = self._steps.get(step, StepState())
            done = state.done if state.total is None else state.total
            self._steps[step] = StepState(done, state.total, finished=True)
            self._write()

    def _write(self) -> None:
        """Store the steps (the caller holds the lock)."""
        self._last_write = self._clock()
        try:
            record_steps(self._warehouse, self._run_id, self._steps)
        except (sa.exc.SQLAlchemyError, OSError) as error:
            logger.warning(
                "training run progress not recorded",
                extra={"training_run": self._run_id, "error": describe_error(error)},
            )
            return
        self._unwritten = False

    def _heartbeat(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            try:
                record_heartbeat(self._warehouse, self._run_id)
            except (sa.exc.SQLAlchemyError, OSError) as error:
                logger.warning(
                    "training run heartbeat not recorded",
                    extra={"training_run": self._run_id, "error": describe_error(error)},
                )


def run_recorded(
    warehouse: Warehouse, run_id: str, work: Callable[[RunRecorder], OutcomeT], heartbeat_s: float
) -> OutcomeT:
    """Run ``work`` with the run's recorder as its progress; record its outcome or its error.

    The error is re-raised after it is recorded, for the caller to log or fail on.
    """
    try:
        with RunRecorder(warehouse, run_id, heartbeat_s) as recorder:
            outcome = work(recorder)
    except Exception as error:
        record_failure(warehouse, run_id, describe_error(error))
        raise
    record_success(warehouse, run_id, outcome)
    return outcome
