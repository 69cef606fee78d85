"""Routes over the model registry: versions with metrics, lineage and service periods; promotion."""

from __future__ import annotations

import math
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Path

from roadtest.serving.context import ApiContext, Context, ReadAccess, WriteAccess
from roadtest.serving.errors import ApiError
from roadtest.serving.schemas import (
    ActivationPeriod,
    ErrorBody,
    ModelList,
    ModelVersionInfo,
    PromotionResult,
    ValidationErrorBody,
)
from roadtest.training.promotion import promote_by_hand
from roadtest.training.registry import VersionDetails
from roadtest.warehouse.schema import MODEL_ACTIVATION

LINEAGE_PREFIXES = ("lineage.", "data.", "split.")
"""Run parameters that describe where a version came from (see ``training.pipeline``)."""

VersionPath = Annotated[
    str, Path(pattern=r"^[0-9]{1,9}$", description="Registered version number.", examples=["3"])
]

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "An API key is needed."},
    422: {"model": ValidationErrorBody, "description": "Invalid input, per field."},
    503: {"model": ErrorBody, "description": "The warehouse is unreachable or locked."},
}
_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown version."}
}


def version_metrics(details: VersionDetails) -> dict[str, float]:
    """The registered model's test-window metrics (``test/<kind>/<metric>`` of its run)."""
    prefix = f"test/{details.info.tags.get('model_kind', '')}/"
    return {
        key.removeprefix(prefix): value
        for key, value in details.metrics.items()
        if key.startswith(prefix) and math.isfinite(value)
    }


def version_lineage(details: VersionDetails) -> dict[str, str]:
    """Lake table versions, row counts, split windows and code version the run logged."""
    return {
        key.removeprefix("lineage."): value
        for key, value in details.params.items()
        if key.startswith(LINEAGE_PREFIXES)
    }


def activation_periods(activations: pl.DataFrame, version: str) -> list[ActivationPeriod]:
    """The periods ``version`` served, oldest first."""
    rows = activations.filter(pl.col("model_version") == version).sort("active_from")
    return [ActivationPeriod(**row) for row in rows.select("active_from", "active_to").to_dicts()]


def describe(
    details: VersionDetails, activations: pl.DataFrame, serving: str | None
) -> ModelVersionInfo:
    """The API's view of one registered version."""
    info = details.info
    return ModelVersionInfo(
        version=info.version,
        aliases=list(info.aliases),
        created_at=info.created_at,
        run_id=info.run_id,
        tags=dict(info.tags),
        metrics=version_metrics(details),
        lineage=version_lineage(details),
        activations=activation_periods(activations, info.version),
        is_champion=info.is_champion,
        serving=info.version == serving,
    )


def _activations(context: ApiContext) -> pl.DataFrame:
    registry = context.services.registry
    return context.services.warehouse.read_table(
        MODEL_ACTIVATION.name, {"model_name": [registry.model_name]}
    )


def _details(context: ApiContext, version: str) -> VersionDetails:
    known = {info.version for info in context.services.registry.list_versions()}
    if version not in known:
        raise ApiError(
            404,
            f"Model version {version} is not registered; registered versions: "
            f"{', '.join(sorted(known, key=int)) or 'none yet'}.",
        )
    return context.services.registry.version_details(version)


def models_router(prefix: str) -> APIRouter:
    """The model registry routes."""
    router = APIRouter(prefix=prefix, tags=["models"], responses=_AUTH)

    @router.get("/models", response_model=ModelList, dependencies=[ReadAccess])
    def list_models(context: Context) -> ModelList:
        """Every registered version, newest first, with metrics, lineage and service periods."""
        registry = context.services.registry
        activations = _activations(context)
        versions = [
            describe(registry.version_details(info.version), activations, context.holder.version)
            for info in reversed(registry.list_versions())
        ]
        champion = next((v.version for v in versions if v.is_champion), None)
        return ModelList(
            model_name=registry.model_name,
            champion=champion,
            serving=context.holder.version,
            versions=versions,
        )

    @router.get(
        "/models/{version}",
        response_model=ModelVersionInfo,
        responses=_UNKNOWN,
        dependencies=[ReadAccess],
    )
    def show_model(context: Context, version: VersionPath) -> ModelVersionInfo:
        """One registered version."""
        details = _details(context, version)
        return describe(details, _activations(context), context.holder.version)

    @router.post(
        "/models/{version}/promote",
        response_model=PromotionResult,
        responses={**_UNKNOWN, 403: {"model": ErrorBody, "description": "A write key is needed."}},
        dependencies=[WriteAccess],
    )
    def promote_model(context: Context, version: VersionPath) -> PromotionResult:
        """Make a version the champion by hand; this process serves it once it has loaded.

        The version's tags record that it was promoted through the API.

        Other API processes follow within their registry poll interval. A version
        that fails to load is reported by /v1/ready and the previous one keeps serving.
        """
        _details(context, version)
        registry = context.services.registry
        previous = promote_by_hand(
            registry, context.services.warehouse, version, who="through the API"
        )
        context.holder.refresh(force=True)
        return PromotionResult(
            model_name=registry.model_name,
            version=version,
            previous_champion=previous,
            serving=context.holder.version,
        )

    return router
