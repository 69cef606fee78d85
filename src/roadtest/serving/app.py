"""The API app factory: ``create_app(settings)`` builds a FastAPI app with no global state.

Nothing happens at import: the app, its metrics registry, its model holder and
its stores are made by ``create_app``; the champion is loaded and the registry
poller started when the app starts (lifespan), and stopped when it stops.
``uvicorn`` gets the factory ``roadtest.serving.app:app_from_env`` (settings
from the ``ROADTEST_*`` environment), so every worker builds its own app.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Final

import numpy as np
import polars as pl
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from roadtest.config import Settings
from roadtest.serving.api_models import models_router
from roadtest.serving.api_operations import operations_router
from roadtest.serving.api_predictions import predictions_router
from roadtest.serving.context import ApiContext
from roadtest.serving.errors import install_error_handlers
from roadtest.serving.limits import BodySizeLimit
from roadtest.serving.logs import REQUEST_ID_HEADER, RequestContext, configure_logging
from roadtest.serving.metrics import ApiMetrics
from roadtest.serving.model_holder import ModelHolder
from roadtest.serving.predictor import Predictor
from roadtest.serving.schemas import batch_request_model
from roadtest.serving.security import API_KEY_HEADER, KeyChecker
from roadtest.serving.services import Redactor, Services
from roadtest.serving.training_runs import TrainingRuns
from roadtest.training.scoring import LoadedModel
from roadtest.warehouse import Warehouse

PREFIX: Final = "/v1"

DESCRIPTION: Final = """
Predicts, before the road test, how likely a vehicle is to fail it and which
failure groups to check, from the data the assembly line already records.

* Score a vehicle by its KNR (features from the warehouse) or by its own rows
  in the partner's export format; every prediction is stored in the warehouse.
* Browse registered model versions and promote one; ingest new exports; start
  a training run (run by the API or queued for the worker, per
  `ROADTEST_TRAINING_RUNNER`).
* Reads are open unless `ROADTEST_API_READ_AUTH` is set; ingest, promotion and
  training need a write key in the `X-API-Key` header.
"""


def recent_vehicles(warehouse: Warehouse, count: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Feature and event mart rows of the ``count`` vehicles with the latest ``as_of``."""
    index = warehouse.read_table("mart_vehicle_features", columns=["knr", "as_of"])
    knrs = index.sort("as_of", descending=True).head(count).get_column("knr").to_list()
    if not knrs:
        return pl.DataFrame(), pl.DataFrame()
    return warehouse.read_features(knrs), warehouse.read_events(knrs)


def reference_scorer(warehouse: Warehouse, count: int) -> Callable[[LoadedModel], np.ndarray]:
    """The function giving a model's scores of recent vehicles (the percentile reference)."""

    def scores(model: LoadedModel) -> np.ndarray:
        features, events = recent_vehicles(warehouse, count)
        if features.height == 0:
            return np.empty(0)
        p_fail, _ = model.score(features, events)
        return np.asarray(p_fail, dtype=np.float64)

    return scores


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """A ready-to-serve API app over the stores of ``settings`` (or the given ``services``)."""
    stores = services or Services.from_settings(settings)
    metrics = ApiMetrics()
    holder: ModelHolder[LoadedModel] = ModelHolder(
        champion_version=lambda: _champion_version(stores),
        load_model=lambda version: stores.load_model(stores.registry, version),
        reference_scores=reference_scorer(stores.warehouse, settings.api_percentile_vehicles),
        metrics=metrics,
        poll_seconds=settings.api_model_poll_seconds,
    )
    context = ApiContext(
        settings=settings,
        services=stores,
        metrics=metrics,
        keys=KeyChecker(
            settings.api_key_hashes, settings.api_read_key_hashes, read_auth=settings.api_read_auth
        ),
        holder=holder,
        predictor=Predictor(stores.warehouse, holder, metrics),
        training=TrainingRuns(
            stores.warehouse,
            settings.training_runner,
            settings.training_run_stale_s,
            on_success=lambda: holder.refresh(force=True),
        ),
        redactor=Redactor(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stores.warehouse.migrate()
        holder.start()
        freeze_startup_objects()
        context.check_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="ready-check")
        try:
            yield
        finally:
            holder.stop()
            context.check_pool.shutdown(wait=False)
            stores.warehouse.dispose()

    app = FastAPI(
        title="roadtest API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.state.api = context
    install_error_handlers(app)
    app.include_router(
        predictions_router(PREFIX, batch_request_model(settings.api_max_batch_vehicles))
    )
    app.include_router(models_router(PREFIX))
    app.include_router(operations_router(PREFIX))
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER, "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER],
        )
    app.add_middleware(
        BodySizeLimit,
        max_body_bytes=settings.api_max_body_bytes,
        max_upload_bytes=settings.api_max_upload_bytes,
        upload_paths={f"{PREFIX}/ingest"},
    )
    app.add_middleware(RequestContext, metrics=metrics)
    return app


def freeze_startup_objects() -> None:
    """Keep what startup built out of the garbage collector's full passes.

    After startup the process holds about 400,000 tracked objects (libraries, the
    model, its reference scores); a full collection walks all of them, 100-250 ms
    on the 2-core build machine, and pauses whichever request is running: that was
    the API's p99. Frozen objects are never walked (nor freed: they live as long
    as the process anyway); what requests create is collected as before.
    """
    gc.collect()
    gc.freeze()


def _champion_version(services: Services) -> str | None:
    champion = services.registry.get_champion()
    return None if champion is None else champion.version


def app_from_env() -> FastAPI:
    """The app of the ``ROADTEST_*`` environment: the factory ``roadtest serve`` gives uvicorn.

    It also sends the logs of the worker it runs in to stderr as JSON lines.
    """
    settings = Settings()
    configure_logging(settings.api_log_level)
    return create_app(settings)
