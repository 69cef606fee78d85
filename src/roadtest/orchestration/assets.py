"""The platform's data flow as Dagster assets, each wiring one plain pipeline function.

raw exports → bronze → warehouse tables → feature marts → trained model →
champion → scored vehicles. The functions are the ones the CLI calls
(``ingest_paths``, ``run_etl``, ``train``, ``predict_and_store``); no
pipeline logic lives here. Steps that talk to stores retry with backoff, since
a database restart or an S3 hiccup should not need a person.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import dagster as dg
from dagster import AssetExecutionContext, ResourceParam

from roadtest.config import Settings
from roadtest.lake.ingest import expand_paths
from roadtest.monitor.activity import TRIGGER_TAG
from roadtest.progress import NO_PROGRESS, Progress
from roadtest.warehouse import Warehouse
from roadtest.warehouse.training_runs import (
    OutcomeT,
    describe_error,
    heartbeat_interval,
    run_recorded,
)

RETRY: Final = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)
"""Three more tries after 10, 20 and 40 s for the steps that read or write the stores."""

TRIGGER_RUN_TAG: Final = "roadtest/trigger"
"""Run tag saying why a run started: landing, schedule, drift, performance or manual."""

TRAINING_RUN_TAG: Final = "roadtest/training_run"
"""Run tag naming the training run asked for through the API (its ``training_runs`` row)."""

GROUP: Final = "roadtest"


class TrainingRunConfig(dg.Config):
    """What to train; empty values take ``ROADTEST_RETRAIN_MODELS`` and the default epochs."""

    models: str = ""
    epochs: int = 0
    seed: int = 0


def recorded_training(
    warehouse: Warehouse,
    training_run: str | None,
    stale_after_s: float,
    work: Callable[[Progress], OutcomeT],
) -> OutcomeT:
    """Run ``work``; for a run asked through the API, with progress and outcome in its row.

    Without a training run (a schedule, a trigger, a manual run) nothing is recorded:
    Dagster and MLflow keep those runs' story.
    """
    if training_run is None:
        return work(NO_PROGRESS)
    return run_recorded(warehouse, training_run, work, heartbeat_interval(stale_after_s))


def landing_files(landing: Path) -> list[Path]:
    """Export files in the landing folder (none when the folder does not exist yet)."""
    return expand_paths([landing]) if landing.is_dir() else []


@dg.asset(group_name=GROUP, description="Partner exports waiting in the landing folder.")
def raw_exports(settings: ResourceParam[Settings]) -> dg.MaterializeResult:
    """List what the next ingest will read."""
    landing = settings.resolved_landing_dir()
    files = landing_files(landing)
    return dg.MaterializeResult(
        metadata={"landing": str(landing), "files": len(files), "names": [f.name for f in files]}
    )


@dg.asset(
    group_name=GROUP,
    deps=[raw_exports],
    retry_policy=RETRY,
    description="Typed bronze Delta tables of the lake (raw files kept as received).",
)
def bronze(
    context: AssetExecutionContext, settings: ResourceParam[Settings]
) -> dg.MaterializeResult:
    """Ingest the landing folder; files already in the lake are recognised and skipped.

    A rejected file does not fail the run (the valid files still reach the
    warehouse); its reason is logged, listed here and kept in the lake's manifest.
    """
    from roadtest.lake import Lake, ingest_paths

    files = landing_files(settings.resolved_landing_dir())
    if not files:
        return dg.MaterializeResult(metadata={"files": 0})
    summary = ingest_paths(Lake.from_settings(settings), files)
    rejected = [f"{f.name}: {f.reason}" for f in summary.files if f.outcome == "rejected"]
    for line in rejected:
        context.log.warning(f"rejected {line}")
    return dg.MaterializeResult(metadata={**summary.totals, "rejected_files": rejected})


@dg.multi_asset(
    group_name=GROUP,
    specs=[
        dg.AssetSpec(
            "warehouse_tables",
            deps=[bronze],
            description="Star schema and labels of the warehouse, loaded from bronze.",
        ),
        dg.AssetSpec(
            "feature_marts",
            deps=["warehouse_tables"],
            description="Per-vehicle feature and event marts the models read.",
        ),
    ],
    retry_policy=RETRY,
)
def warehouse_tables(settings: ResourceParam[Settings]) -> Iterator[dg.MaterializeResult]:
    """Run the incremental ETL: it loads the star schema and rebuilds the marts together."""
    from roadtest.etl.jobs import run_etl
    from roadtest.lake import Lake

    warehouse = Warehouse.from_settings(settings)
    try:
        summary = run_etl(Lake.from_settings(settings), warehouse, "polars")
        marts = {
            name: warehouse.count_rows(name)
            for name in ("mart_vehicle_features", "mart_vehicle_events")
        }
    finally:
        warehouse.dispose()
    if not summary.ok:
        raise dg.Failure(
            description=f"the ETL stopped: {summary.message}",
            allow_retries=False,
        )
    yield dg.MaterializeResult(
        asset_key="warehouse_tables",
        metadata={
            "run_id": summary.run_id,
            "outcome": summary.outcome,
            "vehicles_affected": summary.vehicles_affected,
            "vehicles_labelled": summary.vehicles_labelled,
        },
    )
    yield dg.MaterializeResult(asset_key="feature_marts", metadata=marts)


@dg.asset(
    group_name=GROUP,
    deps=["feature_marts"],
    retry_policy=dg.RetryPolicy(max_retries=1, delay=30),
    description="A model trained on the labelled vehicles, logged and registered in MLflow.",
)
def trained_model(
    context: AssetExecutionContext,
    settings: ResourceParam[Settings],
    config: TrainingRunConfig,
) -> dg.MaterializeResult:
    """Train with the plain pipeline; the promotion rule inside it may crown the new version.

    A run carrying a training run of the API (``TRAINING_RUN_TAG``) records its
    progress and outcome in that run's row, and is not retried: the row says why
    it failed, and whoever asked starts another.
    """
    from mlflow import MlflowClient

    from roadtest.training.pipeline import TrainConfig, train
    from roadtest.training.registry import Registry

    models = (config.models or settings.retrain_models).split(",")
    train_config = TrainConfig.seeded(config.seed, config.epochs or None)
    training_run = context.run.tags.get(TRAINING_RUN_TAG)
    registry = Registry.from_settings(settings)
    warehouse = Warehouse.from_settings(settings)
    try:
        result = recorded_training(
            warehouse,
            training_run,
            settings.training_run_stale_s,
            lambda progress: train(warehouse, registry, models, train_config, progress=progress),
        )
    except ValueError as error:
        raise dg.Failure(
            description=f"training cannot run: {error}", allow_retries=False
        ) from error
    except Exception as error:
        if training_run is None:
            raise
        raise dg.Failure(
            description=f"training run {training_run} failed: {describe_error(error)}",
            allow_retries=False,
        ) from error
    finally:
        warehouse.dispose()
    trigger = context.run.tags.get(TRIGGER_RUN_TAG, "manual")
    MlflowClient(registry.tracking_uri).set_tag(result.run_id, TRIGGER_TAG, trigger)
    return dg.MaterializeResult(
        metadata={
            "run_id": result.run_id,
            "registered_version": result.registered_version,
            "best_model": result.best_model,
            "promoted": result.promoted,
            "promotion_reason": result.decision.reason,
            "trigger": trigger,
            "training_run": training_run or "",
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[trained_model],
    retry_policy=RETRY,
    description="The registered version holding the `champion` alias: what the API serves.",
)
def champion(settings: ResourceParam[Settings]) -> dg.MaterializeResult:
    """Record which version is the champion after training."""
    from roadtest.training.registry import Registry

    current = Registry.from_settings(settings).get_champion()
    if current is None:
        raise dg.Failure(
            description="the registry has no champion after training", allow_retries=False
        )
    return dg.MaterializeResult(
        metadata={"version": current.version, "model_kind": current.tags.get("model_kind", "")}
    )


@dg.asset(
    group_name=GROUP,
    deps=[champion, "feature_marts"],
    retry_policy=RETRY,
    description="Predictions of the champion for the vehicles awaiting the road test.",
)
def scored_vehicles(
    context: AssetExecutionContext, settings: ResourceParam[Settings]
) -> dg.MaterializeResult:
    """Score the awaiting vehicles and store the predictions (nothing to do without a champion)."""
    from roadtest.training.registry import Registry
    from roadtest.training.scoring import load_champion_from, predict_and_store

    registry = Registry.from_settings(settings)
    if registry.get_champion() is None:
        context.log.info("no champion yet: the vehicles are scored after the first training")
        return dg.MaterializeResult(metadata={"vehicles": 0, "model_version": "none"})
    model = load_champion_from(registry)
    warehouse = Warehouse.from_settings(settings)
    try:
        pending = warehouse.read_table(
            "mart_vehicle_features", where={"labelled": [False]}, columns=["knr"]
        ).height
        scored = (
            predict_and_store(warehouse, model, None, pending_only=True).height if pending else 0
        )
    finally:
        warehouse.dispose()
    return dg.MaterializeResult(metadata={"vehicles": scored, "model_version": model.version})


INGEST_ASSETS: Final = ("raw_exports", "bronze", "warehouse_tables", "feature_marts")
RETRAIN_ASSETS: Final = ("trained_model", "champion", "scored_vehicles")
