"""Where the monitor's results go: the warehouse's ``health_check`` table, and job activity.

The warehouse is one of the services being watched, so it may be down when a
round ends. Results then wait in memory (the newest ``buffer_rows``) and are
written, oldest first, with the next round that reaches the warehouse: the
outage itself ends up in the history, as the warehouse check's failed rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from roadtest.config import Settings
from roadtest.monitor.activity import (
    TRAINING_RUNS_SCHEMA,
    TRIGGER_TAG,
    JobActivity,
    etl_activity,
    training_activity,
)
from roadtest.monitor.health import CheckResult, keep_newest, results_frame
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse, connect
from roadtest.warehouse.schema import ETL_RUN, HEALTH_CHECK

log = logging.getLogger("roadtest.monitor")


@dataclass(frozen=True)
class WriteOutcome:
    """What one attempt to write the pending results did."""

    written: int
    pending: int
    dropped: int
    error: str | None


class HealthRecorder:
    """Writes check results to the warehouse, keeping them while it cannot."""

    def __init__(self, warehouse_url: str, buffer_rows: int) -> None:
        self._url = warehouse_url
        self._buffer_rows = buffer_rows
        self._pending: list[CheckResult] = []
        self._migrated = False

    @property
    def pending(self) -> int:
        """Results waiting for the warehouse."""
        return len(self._pending)

    def record(self, results: Sequence[CheckResult]) -> WriteOutcome:
        """Queue ``results`` and try to write everything queued in one transaction."""
        self._pending, dropped = keep_newest([*self._pending, *results], self._buffer_rows)
        if dropped:
            log.warning(
                "dropped the %d oldest health checks: the warehouse has been unreachable "
                "for longer than %d checks",
                dropped,
                self._buffer_rows,
            )
        try:
            written = self._write(results_frame(self._pending))
        except Exception as error:
            log.warning(
                "cannot write health checks to the warehouse (%d kept in memory): %s",
                len(self._pending),
                error,
            )
            return WriteOutcome(0, len(self._pending), dropped, f"{type(error).__name__}: {error}")
        self._pending = []
        return WriteOutcome(written, 0, dropped, None)

    def _write(self, rows: pl.DataFrame) -> int:
        warehouse = connect(self._url)
        try:
            if not self._migrated:
                warehouse.migrate()
                self._migrated = True
            with warehouse.transaction() as tx:
                return tx.append_rows(HEALTH_CHECK.name, rows)
        finally:
            warehouse.dispose()


def read_etl_runs(warehouse: Warehouse) -> pl.DataFrame:
    """Outcome and end of every ETL run (empty before the first)."""
    if warehouse.schema_version() == 0:
        return pl.DataFrame(
            schema={"outcome": pl.String(), "finished_at": ETL_RUN.schema()["finished_at"]}
        )
    return warehouse.read_table(ETL_RUN.name, columns=["outcome", "finished_at"])


def read_training_runs(registry: Registry) -> pl.DataFrame:
    """Status, end and trigger of every MLflow training run of the registry's experiment."""
    from mlflow import MlflowClient

    client = MlflowClient(registry.tracking_uri)
    experiment = client.get_experiment_by_name(registry.experiment_name)
    if experiment is None:
        return pl.DataFrame(schema=TRAINING_RUNS_SCHEMA)
    runs = client.search_runs([experiment.experiment_id], max_results=10_000)
    rows = [
        (
            run.info.status,
            None if run.info.end_time is None else run.info.end_time * 1000,
            run.data.tags.get(TRIGGER_TAG),
        )
        for run in runs
    ]
    frame = pl.DataFrame(
        rows,
        schema={"status": pl.String(), "end_time": pl.Int64(), "trigger": pl.String()},
        orient="row",
    )
    return frame.with_columns(pl.col("end_time").cast(TRAINING_RUNS_SCHEMA["end_time"]))


def read_activity(settings: Settings) -> list[JobActivity]:
    """ETL, training and retraining activity from the warehouse and the registry."""
    warehouse = connect(settings.resolved_warehouse_url())
    try:
        etl = etl_activity(read_etl_runs(warehouse))
    finally:
        warehouse.dispose()
    training, retraining = training_activity(read_training_runs(Registry.from_settings(settings)))
    return [etl, training, retraining]
