"""Errors the API answers with, and the handlers that give every error the same body.

Every error body is ``{"detail": ..., "request_id": ...}``: a sentence a plant
analyst can act on (or, for invalid input, one entry per offending field), and
the id that finds the request in the logs. Unexpected failures answer 500 with
that id only; the cause goes to the log, never to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("roadtest.api")


class ApiError(Exception):
    """An error with the HTTP status and message the caller should see."""

    def __init__(
        self, status_code: int, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers or {})


def request_id_of(request: Request) -> str | None:
    """The id the logging middleware gave this request."""
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors reduced to location, message and type (the input is not echoed)."""
    return [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "type": error.get("type", ""),
        }
        for error in errors
    ]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        {"detail": exc.detail, "request_id": request_id_of(request)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


BODY_UNREADABLE = {
    "loc": ["body"],
    "msg": "The body could not be read: send UTF-8 JSON, or multipart form data for uploads.",
    "type": "body_unreadable",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's only 400 is a body it cannot parse (not UTF-8, broken multipart): that is
        # invalid input like any other, so it gets the same 422 field-level answer.
        return JSONResponse(
            {"detail": [BODY_UNREADABLE], "request_id": request_id_of(request)}, status_code=422
        )
    return JSONResponse(
        {"detail": str(exc.detail), "request_id": request_id_of(request)},
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": field_errors(exc.errors()), "request_id": request_id_of(request)},
        status_code=422,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error", extra={"request_id": request_id_of(request)})
    return JSONResponse(
        {
            "detail": "The server failed to handle this request; the platform team can find "
            "the cause in the logs under this request id.",
            "request_id": request_id_of(request),
        },
        status_code=500,
    )


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.error(
        "store unavailable",
        extra={"request_id": request_id_of(request), "error": type(exc).__name__},
    )
    return JSONResponse(
        {
            "detail": "The warehouse cannot be reached or is locked by another process right "
            "now; retry in a moment (see /v1/ready).",
            "request_id": request_id_of(request),
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Give every error of ``app`` the common body."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(sa.exc.OperationalError, _store_unavailable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
