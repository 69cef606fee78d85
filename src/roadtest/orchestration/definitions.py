"""The Dagster code location of roadtest: ``dagster dev -m roadtest.orchestration.definitions``.

Everything is configured from the ``ROADTEST_*`` settings; building the
definitions reads them and touches no store.
"""

from __future__ import annotations

import dagster as dg

from roadtest.config import Settings
from roadtest.orchestration.assets import (
    INGEST_ASSETS,
    RETRAIN_ASSETS,
    bronze,
    champion,
    raw_exports,
    scored_vehicles,
    trained_model,
    warehouse_tables,
)
from roadtest.orchestration.sensors import (
    failure_alert_sensor,
    landing_sensor,
    retrain_schedule,
    retrain_trigger_sensor,
    training_queue_sensor,
)

ASSETS = (raw_exports, bronze, warehouse_tables, trained_model, champion, scored_vehicles)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Assets, jobs, sensors and the schedule over the stores of ``settings``."""
    settings = settings or Settings()
    ingest_job = dg.define_asset_job(
        "ingest_job",
        selection=dg.AssetSelection.assets(*INGEST_ASSETS, "scored_vehicles"),
        description="Ingest the landing folder, load the warehouse, score new vehicles.",
    )
    retrain_job = dg.define_asset_job(
        "retrain_job",
        selection=dg.AssetSelection.assets(*RETRAIN_ASSETS),
        description="Train on the newest labels, maybe promote, score the awaiting vehicles.",
    )
    return dg.Definitions(
        assets=list(ASSETS),
        jobs=[ingest_job, retrain_job],
        schedules=[retrain_schedule(settings, retrain_job)],
        sensors=[
            landing_sensor(settings, ingest_job),
            retrain_trigger_sensor(settings, retrain_job),
            training_queue_sensor(settings, retrain_job),
            failure_alert_sensor(settings),
        ],
        resources={"settings": settings},
    )


defs = build_definitions()
