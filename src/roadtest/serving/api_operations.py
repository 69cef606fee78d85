"""Routes that run the platform: health, readiness, metrics, ingest, training runs."""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Annotated, Any, Final

import sqlalchemy as sa
from fastapi import APIRouter, File, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from roadtest.etl.jobs import run_etl
from roadtest.lake import FileOutcome, IngestSummary, Lake, ingest_paths
from roadtest.serving.context import ApiContext, Context, ReadAccess, WriteAccess
from roadtest.serving.errors import ApiError
from roadtest.serving.schemas import (
    DependencyStatus,
    ErrorBody,
    EtlCheck,
    EtlReport,
    HealthBody,
    IngestedFile,
    IngestReport,
    IngestResponse,
    ReadyBody,
    StepProgress,
    TrainingRun,
    TrainingRunRequest,
    ValidationErrorBody,
)
from roadtest.serving.services import Redactor
from roadtest.warehouse.training_runs import TrainingRunRow

logger = logging.getLogger("roadtest.api")

CHECK_TIMEOUT_S: Final = 5.0
"""A store that does not answer within this is reported down (a hung S3 must not hang /ready)."""

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "An API key is needed."},
    403: {"model": ErrorBody, "description": "The key may only read."},
    413: {"model": ErrorBody, "description": "The body is larger than the API accepts."},
    422: {"model": ValidationErrorBody, "description": "Invalid input, per field."},
    503: {"model": ErrorBody, "description": "The warehouse is unreachable or locked."},
}


def _timed(check: Callable[[], str]) -> DependencyStatus:
    started = time.perf_counter()
    detail = check()
    return DependencyStatus(
        ok=True, detail=detail, latency_ms=(time.perf_counter() - started) * 1000
    )


def _model_check(context: ApiContext) -> DependencyStatus:
    version = context.holder.version
    failure = context.holder.load_error
    if version is None:
        return DependencyStatus(
            ok=False,
            detail=context.redactor.clean(failure or "no champion model has been loaded yet"),
        )
    detail = f"serving version {version}"
    if failure:
        detail += f"; {context.redactor.clean(failure)}"
    return DependencyStatus(ok=True, detail=detail)


def _dependency_checks(context: ApiContext) -> dict[str, Callable[[], str]]:
    services = context.services

    def warehouse() -> str:
        return f"{services.warehouse.backend}, schema version {services.warehouse.schema_version()}"

    def lake() -> str:
        services.lake.has_raw("ready-probe")
        return "reachable"

    def registry() -> str:
        champion = services.registry.get_champion()
        return "no champion yet" if champion is None else f"champion version {champion.version}"

    return {"warehouse": warehouse, "lake": lake, "registry": registry}


def readiness(context: ApiContext) -> ReadyBody:
    """Model loaded and every store answering, each checked within ``CHECK_TIMEOUT_S``."""
    checks = {"model": _model_check(context)}
    futures = {
        name: context.check_pool.submit(_timed, check)
        for name, check in _dependency_checks(context).items()
    }
    for name, future in futures.items():
        try:
            checks[name] = future.result(timeout=CHECK_TIMEOUT_S)
        except FutureTimeout:
            checks[name] = DependencyStatus(
                ok=False, detail=f"no answer within {CHECK_TIMEOUT_S:g} s"
            )
        except Exception as error:
            checks[name] = DependencyStatus(
                ok=False, detail=context.redactor.clean(f"{type(error).__name__}: {error}")
            )
    return ReadyBody(
        ready=all(c.ok for c in checks.values()),
        model_version=context.holder.version,
        model_load_error=None
        if context.holder.load_error is None
        else context.redactor.clean(context.holder.load_error),
        checks=checks,
    )


def training_run_body(record: TrainingRunRow, redactor: Redactor) -> TrainingRun:
    """The API form of a run's row (secrets removed from its error)."""
    return TrainingRun(
        id=record.id,
        state=record.state,
        requested_at=record.requested_at,
        runner=record.runner,
        started_at=record.started_at,
        finished_at=record.finished_at,
        progress={
            step: StepProgress(done=s.done, total=s.total, finished=s.finished)
            for step, s in record.steps.items()
        },
        mlflow_run_id=record.mlflow_run_id,
        model_version=record.model_version,
        result=record.result,
        error=None if record.error is None else redactor.clean(record.error),
    )


def _stage_uploads(files: list[UploadFile], folder: Path) -> list[Path]:
    """Write each upload to its own subfolder under its own (base) name."""
    paths = []
    for index, upload in enumerate(files):
        name = Path(upload.filename or "").name
        if not name or name in (".", ".."):
            raise ApiError(
                422, f"Upload {index + 1} has no file name; send each export as a named file."
            )
        target = folder / str(index) / name
        target.parent.mkdir()
        with target.open("wb") as out:
            while chunk := upload.file.read(1 << 20):
                out.write(chunk)
        paths.append(target)
    return paths


def unreadable(path: Path, error: Exception) -> FileOutcome:
    """A file the lake's readers failed on without rejecting it: rejected here, with the cause."""
    data = path.read_bytes()
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return FileOutcome(
        name=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        table=None,
        outcome="rejected",
        reason=f"{path.name} could not be read ({first_line}); it was not recorded in the "
        "lake, so sending it again retries it",
    )


def ingest_uploads(lake: Lake, paths: list[Path]) -> IngestSummary:
    """Ingest each upload on its own, so that one unreadable file cannot fail the others.

    Storage and database failures still propagate: they are not the file's fault.
    """
    outcomes: list[FileOutcome] = []
    for path in paths:
        try:
            outcomes.extend(ingest_paths(lake, [path]).files)
        except (OSError, sa.exc.SQLAlchemyError):
            raise
        except Exception as error:
            logger.warning(
                "upload could not be read", extra={"file": path.name, "error": type(error).__name__}
            )
            outcomes.append(unreadable(path, error))
    return IngestSummary(tuple(outcomes))


def operations_router(prefix: str) -> APIRouter:
    """Health, readiness, metrics, ingest and training-run routes."""
    router = APIRouter(prefix=prefix)

    @router.get("/health", response_model=HealthBody, tags=["operations"])
    def health() -> HealthBody:
        """Liveness: the process answers."""
        return HealthBody(status="ok")

    @router.get(
        "/ready",
        response_model=ReadyBody,
        tags=["operations"],
        responses={503: {"model": ReadyBody, "description": "Not ready: see the failing checks."}},
    )
    def ready(context: Context) -> JSONResponse:
        """Readiness: a model is loaded and the warehouse, lake and registry answer."""
        body = readiness(context)
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)

    @router.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus metrics."}},
    )
    def metrics(context: Context) -> Response:
        """Prometheus metrics: requests and latencies per route, scores, champion, load errors."""
        body, content_type = context.metrics.render()
        return Response(body, media_type=content_type)

    @router.post(
        "/ingest",
        response_model=IngestResponse,
        tags=["data"],
        responses={
            **_WRITE_ERRORS,
            409: {"model": ErrorBody, "description": "Another ingest is running."},
        },
        dependencies=[WriteAccess],
    )
    def ingest(
        context: Context,
        files: Annotated[
            list[UploadFile], File(description="Partner exports: xlsx, csv or parquet files.")
        ],
    ) -> IngestResponse:
        """Store uploaded exports in the lake and bring the warehouse up to date (ETL)."""
        started = time.perf_counter()
        if not context.ingest_lock.acquire(blocking=False):
            raise ApiError(409, "Another ingest is running; send these files when it has finished.")
        try:
            with tempfile.TemporaryDirectory(prefix="roadtest-upload-") as tmp:
                paths = _stage_uploads(files, Path(tmp))
                summary = ingest_uploads(context.services.lake, paths)
            etl = run_etl(context.services.lake, context.services.warehouse)
            if etl.outcome == "loaded":
                context.holder.rescore_reference()
        finally:
            context.ingest_lock.release()
        return IngestResponse(
            ingest=IngestReport(
                ok=summary.ok,
                totals=summary.totals,
                files=[
                    IngestedFile(**{**vars(f), "sheets": list(f.sheets)}) for f in summary.files
                ],
            ),
            etl=EtlReport(
                run_id=etl.run_id,
                ok=etl.ok,
                outcome=etl.outcome,
                message=etl.message,
                vehicles_affected=etl.vehicles_affected,
                vehicles_labelled=etl.vehicles_labelled,
                rows_loaded=etl.rows_loaded,
                checks_passed=etl.checks_passed,
                checks_failed=etl.checks_failed,
                checks=[EtlCheck(**c.to_dict()) for c in etl.checks],
                duration_s=etl.duration_s,
            ),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    @router.post(
        "/training-runs",
        response_model=TrainingRun,
        status_code=202,
        tags=["training"],
        responses={
            **_WRITE_ERRORS,
            409: {"model": ErrorBody, "description": "A run is already queued or running."},
        },
        dependencies=[WriteAccess],
    )
    def start_training(context: Context, request: TrainingRunRequest | None = None) -> TrainingRun:
        """Start a training run in the background, or queue it for the worker.

        Follow it with GET /v1/training-runs/{id}. ROADTEST_TRAINING_RUNNER says who
        runs it: `api`, this API in a background thread (the answer says `running`);
        `worker`, the orchestrator, which takes it from the queue (`queued` until then).
        """
        wanted = request or TrainingRunRequest()
        stores = context.services
        record = context.training.start(
            wanted,
            lambda progress: stores.train(stores.warehouse, stores.registry, wanted, progress),
        )
        return training_run_body(record, context.redactor)

    @router.get(
        "/training-runs/{run_id}",
        response_model=TrainingRun,
        tags=["training"],
        responses={
            401: {"model": ErrorBody, "description": "An API key is needed."},
            404: {"model": ErrorBody, "description": "Unknown run."},
            422: {"model": ValidationErrorBody, "description": "Invalid input, per field."},
        },
        dependencies=[ReadAccess],
    )
    def training_status(
        context: Context,
        run_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$", description="Run id.")],
    ) -> TrainingRun:
        """Status, progress per step and, once finished, the result of a training run."""
        return training_run_body(context.training.get(run_id), context.redactor)

    return router
