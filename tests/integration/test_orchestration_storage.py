"""The orchestrator's run storage in PostgreSQL: the dagster.yaml ``roadtest orchestrate``
writes, read by a real Dagster instance against a real server."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from roadtest.orchestration.instance import STORAGE_URL_VARIABLE, instance_yaml

pytestmark = pytest.mark.postgres


@dg.asset
def marker() -> int:
    return 1


def test_runs_are_stored_in_postgres_and_the_file_holds_no_password(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dagster_url = sa.make_url(postgres_url).set(drivername="postgresql+psycopg2")
    monkeypatch.setenv(STORAGE_URL_VARIABLE, dagster_url.render_as_string(hide_password=False))
    (tmp_path / "dagster.yaml").write_text(instance_yaml(postgres_storage=True))

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = dg.materialize([marker], instance=instance)
        assert result.success
        assert [run.run_id for run in instance.get_runs()] == [result.run_id]

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT run_id FROM runs")).scalars().all()
    engine.dispose()
    assert stored == [result.run_id]
    assert "postgresql" not in (tmp_path / "dagster.yaml").read_text()


def test_without_a_storage_url_dagster_keeps_its_sqlite_default(tmp_path: Path) -> None:
    assert instance_yaml(postgres_storage=False) == ""
    (tmp_path / "dagster.yaml").write_text(instance_yaml(postgres_storage=False))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert dg.materialize([marker], instance=instance).success
    assert any(tmp_path.rglob("*.db"))
