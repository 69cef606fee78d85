"""Failure alerts: what is said about a failed run, and the webhook that hears it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx


def alert_payload(
    job: str, run_id: str, message: str, at: datetime | None = None
) -> dict[str, Any]:
    """The JSON body of a failure alert (``text`` suits chat webhooks that show only that)."""
    moment = (at or datetime.now(UTC)).isoformat()
    return {
        "text": f"roadtest: run {run_id} of {job} failed: {message}",
        "job": job,
        "run_id": run_id,
        "message": message,
        "failed_at": moment,
    }


def post_alert(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> None:
    """POST ``payload`` to the webhook; an answer other than 2xx is an error saying so."""
    response = httpx.post(url, json=payload, timeout=timeout_s)
    if not response.is_success:
        raise httpx.HTTPStatusError(
            f"the alert webhook answered HTTP {response.status_code}",
            request=response.request,
            response=response,
        )
