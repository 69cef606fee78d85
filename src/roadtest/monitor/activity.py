"""What the worker has been doing, from what its jobs leave behind.

ETL runs are rows of the warehouse's ``etl_run`` table; training runs are
MLflow runs, and a retraining is a training run the orchestrator started (it
tags the run with its trigger). Reading the stored outcomes instead of
counting in memory keeps the numbers right whichever process ran the job: the
CLI, the API's training route or the orchestrator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import polars as pl

TRIGGER_TAG: Final = "roadtest.trigger"
"""MLflow run tag the orchestrator sets: schedule, drift, performance or manual."""

ETL_FAILED: Final = "failed"
TRAINING_FINISHED: Final = "FINISHED"

TRAINING_RUNS_SCHEMA: Final = pl.Schema(
    {
        "status": pl.String(),
        "end_time": pl.Datetime("us", "UTC"),
        "trigger": pl.String(),
    }
)
"""One MLflow training run: its status, when it ended, and its orchestration trigger (or null)."""


@dataclass(frozen=True)
class JobActivity:
    """Runs of one kind of job by outcome, and when the latest successful one ended."""

    job: str
    runs_by_outcome: Mapping[str, int]
    last_success: datetime | None


def _activity(job: str, runs: pl.DataFrame, outcome: str, ended: str, ok: pl.Expr) -> JobActivity:
    counts = runs.group_by(outcome).len().sort(outcome).rows()
    last = runs.filter(ok).get_column(ended).max()
    return JobActivity(
        job=job,
        runs_by_outcome={str(name): int(n) for name, n in counts},
        last_success=last if isinstance(last, datetime) else None,
    )


def etl_activity(etl_runs: pl.DataFrame) -> JobActivity:
    """ETL runs (``outcome``, ``finished_at`` of ``etl_run``); any run that did not fail counts."""
    return _activity("etl", etl_runs, "outcome", "finished_at", pl.col("outcome") != ETL_FAILED)


def training_activity(training_runs: pl.DataFrame) -> tuple[JobActivity, JobActivity]:
    """All training runs, then the retrainings among them (runs with a trigger tag)."""
    finished = pl.col("status") == TRAINING_FINISHED
    everything = _activity("training", training_runs, "status", "end_time", finished)
    retraining = _activity(
        "retraining",
        training_runs.filter(pl.col("trigger").is_not_null()),
        "status",
        "end_time",
        finished,
    )
    return everything, retraining
