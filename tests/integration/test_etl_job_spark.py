"""``run_etl(engine="spark")`` starts a local Spark session only when asked, and hands it on.

Spark's results themselves are the transforms' business (their parity tests run
them on all three engines); here the transforms are recorded and run on Polars
so the test costs one session start, not a Spark job per table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roadtest.etl import jobs
from roadtest.etl.jobs import run_etl
from roadtest.lake import Lake
from roadtest.warehouse import connect
from tests.integration.test_etl_job import CARS
from tests.integration.test_etl_job_support import ingest_day


@pytest.mark.slow
@pytest.mark.spark
def test_a_local_spark_session_is_created_for_the_spark_engine_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import SparkSession

    lake = Lake(str(tmp_path / "lake"))
    warehouse = connect(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    calls: list[tuple[str, Any]] = []
    real = jobs.run_transforms

    def recorded(bronze: Any, engine: str, spark: Any = None, **kwargs: Any) -> Any:
        calls.append((engine, spark))
        return real(bronze, "polars", None, **kwargs)

    monkeypatch.setattr(jobs, "run_transforms", recorded)
    ingest_day(lake, CARS[:2], "day1", day=1)
    assert run_etl(lake, warehouse, engine="polars").outcome == "loaded"
    ingest_day(lake, CARS[2:], "day2", day=2)
    summary = run_etl(lake, warehouse, engine="spark")
    warehouse.dispose()

    assert summary.outcome == "loaded", summary.message
    assert calls[0] == ("polars", None)
    assert [engine for engine, _ in calls[1:]] == ["spark", "spark"]
    session = calls[1][1]
    assert isinstance(session, SparkSession)
    assert calls[2][1] is session
    assert session.conf.get("spark.driver.host") == "127.0.0.1"
