"""The Dagster instance configuration ``roadtest orchestrate`` writes into DAGSTER_HOME.

With ``dagster_storage_url`` set, runs, event logs and schedules live in
PostgreSQL, next to the warehouse and the MLflow backend, so one database
backup covers them and a new worker container finds its history. The file
names only the environment variable the URL is read from: the password never
lands in DAGSTER_HOME.
"""

from __future__ import annotations

from typing import Final

STORAGE_URL_VARIABLE: Final = "ROADTEST_DAGSTER_STORAGE_URL"
"""The variable Dagster reads the storage URL from (the setting's own name)."""


def instance_yaml(postgres_storage: bool) -> str:
    """The ``dagster.yaml`` text: PostgreSQL storage, or empty for Dagster's SQLite default."""
    if not postgres_storage:
        return ""
    return f"storage:\n  postgres:\n    postgres_url:\n      env: {STORAGE_URL_VARIABLE}\n"
