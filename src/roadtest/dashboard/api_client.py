"""The few API calls the dashboard makes: health, readiness, upload exports, training runs.

Actions go through the API, never straight to the lake or the registry, so an
upload from the dashboard is checked, ingested and loaded exactly as one from
any other client, under the API's key check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import httpx

API_KEY_HEADER: Final = "X-API-Key"
TIMEOUT_S: Final = 5.0
UPLOAD_TIMEOUT_S: Final = 600.0
"""An upload is ingested and loaded (ETL) before the API answers: minutes for large exports."""


class ApiUnavailableError(Exception):
    """The API did not answer (not started, wrong URL, or timed out)."""


class ApiRefusedError(Exception):
    """The API answered with an error; ``detail`` is its message for people."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) for item in detail)
    return str(detail or response.reason_phrase)


class ApiClient:
    """Calls the roadtest API over an ``httpx.Client`` (any transport: tests pass the app's)."""

    def __init__(self, http: httpx.Client, key: str | None = None) -> None:
        self._http = http
        self._key = key

    @classmethod
    def connect(cls, base_url: str, key: str | None = None) -> ApiClient:
        """A client of the API at ``base_url``."""
        return cls(httpx.Client(base_url=base_url.rstrip("/"), timeout=TIMEOUT_S), key)

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def _headers(self) -> dict[str, str]:
        return {API_KEY_HEADER: self._key} if self._key else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.HTTPError as error:
            raise ApiUnavailableError(f"{type(error).__name__}: {error}") from error

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise ApiRefusedError(response.status_code, _detail(response))
        body = response.json()
        if not isinstance(body, dict):
            raise ApiRefusedError(
                response.status_code, "the API answered with something unexpected"
            )
        return body

    def health(self) -> dict[str, Any]:
        """``GET /v1/health``: the API process answers."""
        return self._json(self._send("GET", "/v1/health"))

    def ready(self) -> dict[str, Any]:
        """``GET /v1/ready``: the readiness body (a 503 is an answer too: it says what is down)."""
        response = self._send("GET", "/v1/ready")
        if response.status_code == 503:
            body = response.json()
            return body if isinstance(body, dict) else {"ready": False}
        return self._json(response)

    def ingest(self, files: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
        """``POST /v1/ingest`` with the export files (name, bytes); answers after the ETL ran."""
        parts = [("files", (name, content)) for name, content in files]
        return self._json(self._send("POST", "/v1/ingest", files=parts, timeout=UPLOAD_TIMEOUT_S))

    def start_training(self, models: Sequence[str] | None = None) -> dict[str, Any]:
        """``POST /v1/training-runs``: start a run (the API's default models when none given)."""
        body = {"models": list(models)} if models else {}
        return self._json(self._send("POST", "/v1/training-runs", json=body))

    def training_run(self, run_id: str) -> dict[str, Any]:
        """``GET /v1/training-runs/{id}``: state and progress of a run."""
        return self._json(self._send("GET", f"/v1/training-runs/{run_id}"))
