"""Request body size limits, enforced before the body is parsed.

A declared ``Content-Length`` over the limit is refused at once; a streamed
body without one is counted as it arrives and refused as soon as it passes the
limit, so an oversized upload never fills memory or disk. Uploads to the ingest
endpoint have their own, larger limit.
"""

from __future__ import annotations

import json
from collections.abc import Container

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_message(limit: int) -> str:
    """What the caller reads when its body is refused."""
    return (
        f"The request body is larger than the {limit:,} bytes this endpoint accepts; "
        "send fewer vehicles per call or split the export into several files."
    )


class BodyTooLargeError(HTTPException):
    """The body passed the limit while it was being received.

    An HTTPException, so FastAPI's body parsers let it through and the app's
    error handlers answer 413 with the common error body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit), headers={"Connection": "close"})


class BodySizeLimit:
    """ASGI middleware answering 413 to bodies over the limit of their path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        upload_paths: Container[str],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope["path"] in self.upload_paths else self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    """Answer 413 with the common error body."""
    request_id = scope.get("state", {}).get("request_id")
    body = json.dumps({"detail": too_large_message(limit), "request_id": request_id}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
