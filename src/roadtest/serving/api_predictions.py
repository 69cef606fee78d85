"""Routes that score vehicles: one, a batch, or the latest prediction of a KNR.

No ``from __future__ import annotations`` here: the batch body's model is made
per app (it carries the batch size limit), and FastAPI must see it as a class.
"""

import time
from typing import Annotated, Any, cast

import numpy as np
import polars as pl
from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from roadtest.serving.context import Context, ReadAccess
from roadtest.serving.errors import ApiError
from roadtest.serving.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ErrorBody,
    ItemError,
    Knr,
    Prediction,
    ValidationErrorBody,
    VehicleInput,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "An API key is needed (read auth is on)."},
    413: {"model": ErrorBody, "description": "The body is larger than the API accepts."},
    422: {"model": ValidationErrorBody, "description": "Invalid input, per field."},
    503: {
        "model": ErrorBody,
        "description": "No champion model is loaded, or the warehouse is unreachable or locked.",
    },
}


def as_exception(error: ItemError) -> Exception:
    """The error a single-vehicle call raises: field errors become a 422 like any invalid body."""
    if error.errors:
        return RequestValidationError(
            [{"loc": ("body", *e.loc), "msg": e.msg, "type": e.type} for e in error.errors]
        )
    return ApiError(error.status, error.detail)


def json_response(body: BaseModel) -> Response:
    """``body`` serialised once. A route returning the model itself has FastAPI validate it
    again against the response model, in its thread pool for a plain ``def`` route: a
    second thread switch per request for a body built from validated parts."""
    return Response(body.model_dump_json(), media_type="application/json")


def predictions_router(prefix: str, batch_model: type[BatchRequest]) -> APIRouter:
    """The prediction routes; ``batch_model`` carries the batch size limit of the settings."""
    router = APIRouter(
        prefix=prefix, tags=["predictions"], dependencies=[ReadAccess], responses=ERRORS
    )

    @router.post(
        "/predictions",
        response_model=Prediction,
        responses={404: {"model": ErrorBody, "description": "Unknown KNR."}},
        summary="Score one vehicle",
    )
    def predict_one(context: Context, vehicle: Annotated[VehicleInput, Body()]) -> Response:
        """Risk of one vehicle failing the road test, given by KNR or by its partner rows.

        The prediction is stored in the warehouse before the answer leaves.
        """
        started = time.perf_counter()
        _, results = context.predictor.predict([vehicle], started)
        outcome = results[0]
        if isinstance(outcome, ItemError):
            raise as_exception(outcome)
        return json_response(outcome)

    @router.post("/predictions/batch", response_model=BatchResponse, summary="Score many vehicles")
    def predict_batch(context: Context, batch: Annotated[batch_model, Body()]) -> Response:  # type: ignore[valid-type]
        """Score many vehicles in one call; each gets a prediction or its own error, in order."""
        started = time.perf_counter()
        vehicles = cast(BatchRequest, batch).vehicles
        served, results = context.predictor.predict(vehicles, started)
        items = [
            BatchItem(index=i, error=r)
            if isinstance(r, ItemError)
            else BatchItem(index=i, prediction=r)
            for i, r in enumerate(results)
        ]
        failed = sum(item.error is not None for item in items)
        body = BatchResponse(
            items=items,
            n_predicted=len(items) - failed,
            n_failed=failed,
            model_version=served.model.version,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
        return json_response(body)

    @router.get(
        "/vehicles/{knr}/prediction",
        response_model=Prediction,
        responses={404: {"model": ErrorBody, "description": "Unknown KNR."}},
        summary="Latest prediction of a vehicle",
    )
    def vehicle_prediction(
        context: Context,
        knr: Annotated[Knr, Path(description="Vehicle id.")],
        refresh: Annotated[
            bool, Query(description="Compute a new prediction even if one is stored.")
        ] = False,
    ) -> Prediction:
        """The latest stored prediction of the serving model version, or a new one if none."""
        started = time.perf_counter()
        served = context.predictor.served()
        if not refresh:
            stored = context.services.warehouse.read_predictions([knr]).filter(
                pl.col("model_version") == served.model.version
            )
            if stored.height:
                row = stored.sort("predicted_at").row(-1, named=True)
                percentile = served.percentile(np.array([row["probability"]]))
                return Prediction(
                    knr=knr,
                    probability=row["probability"],
                    decision=row["decision"],
                    threshold=served.model.threshold,
                    risk_percentile=None if percentile is None else float(percentile[0]),
                    failure_groups=[],
                    model_version=row["model_version"],
                    features_as_of=row["features_as_of"],
                    predicted_at=row["predicted_at"],
                    source="stored",
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                )
        _, results = context.predictor.predict([VehicleInput(knr=knr)], started)
        outcome = results[0]
        if isinstance(outcome, ItemError):
            raise as_exception(outcome)
        return outcome

    return router
