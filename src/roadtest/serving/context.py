"""The state one API app shares between its routes, and the dependencies that reach it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from roadtest.config import Settings
from roadtest.serving.metrics import ApiMetrics
from roadtest.serving.model_holder import ModelHolder
from roadtest.serving.predictor import Predictor
from roadtest.serving.security import API_KEY_HEADER, Access, KeyChecker
from roadtest.serving.services import Redactor, Services
from roadtest.serving.training_runs import TrainingRuns
from roadtest.training.scoring import LoadedModel


@dataclass
class ApiContext:
    """Everything the routes of one app use."""

    settings: Settings
    services: Services
    metrics: ApiMetrics
    keys: KeyChecker
    holder: ModelHolder[LoadedModel]
    predictor: Predictor
    training: TrainingRuns
    redactor: Redactor
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    check_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=3, thread_name_prefix="ready-check")
    )
    """Runs /ready's store checks with a timeout; replaced each time the app starts."""


async def get_context(request: Request) -> ApiContext:
    """The app's context (set by ``create_app``).

    This and the access checks below are ``async`` although they never wait: FastAPI
    runs a plain ``def`` dependency in its thread pool, and those hand-offs were three
    of the four thread switches of every prediction request.
    """
    context = request.app.state.api
    assert isinstance(context, ApiContext)
    return context


Context = Annotated[ApiContext, Depends(get_context)]

_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="API key. Needed for ingest, promotion and training runs; for reads only when "
    "ROADTEST_API_READ_AUTH is set.",
)
ApiKey = Annotated[str | None, Depends(_api_key)]


async def require_read(context: Context, key: ApiKey) -> None:
    """Reads: open, or a read or write key when read auth is on."""
    context.keys.authorize(key, Access.READ)


async def require_write(context: Context, key: ApiKey) -> None:
    """Changes: a write key."""
    context.keys.authorize(key, Access.WRITE)


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
