"""One health check per service: the API, the dashboard, the stores, S3, MLflow, Dagster.

A check never raises: a dead, slow or misconfigured service is a result with
``ok=False`` and the reason in words. Each check runs in its own thread with a
deadline, so one service that hangs (a firewall dropping packets, a database
stuck on a lock) cannot stall the round or the other checks; a thread that
outlives its deadline is abandoned, and it ends on its own client timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from roadtest.config import Settings
from roadtest.contracts.partner import SourceTable
from roadtest.lake import Lake
from roadtest.monitor.health import CheckResult
from roadtest.serving.services import Redactor
from roadtest.warehouse.errors import is_lock_conflict


class CheckFailedError(Exception):
    """A check failed for a reason already worded for people (stored as it is)."""


@dataclass(frozen=True)
class Check:
    """A named probe: returns a short detail when the service is healthy, raises otherwise."""

    service: str
    probe: Callable[[], str]


def run_check(check: Check, redact: Callable[[str], str] = str) -> CheckResult:
    """Run one probe and time it; any exception becomes a failed result, secrets removed."""
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        detail, ok = check.probe(), True
    except CheckFailedError as error:
        detail, ok = str(error), False
    except Exception as error:
        detail, ok = f"{type(error).__name__}: {error}", False
    latency_ms = (time.perf_counter() - started) * 1000
    return CheckResult(check.service, checked_at, ok, latency_ms, redact(detail)[:2000])


def run_checks(
    checks: Sequence[Check], timeout_s: float, redact: Callable[[str], str] = str
) -> list[CheckResult]:
    """Run every check at once, each given ``timeout_s``; results in the order of ``checks``."""
    started_at = datetime.now(UTC)
    slots: list[CheckResult | None] = [None] * len(checks)

    def work(index: int, check: Check) -> None:
        slots[index] = run_check(check, redact)

    threads = [
        threading.Thread(target=work, args=(i, c), name=f"check-{c.service}", daemon=True)
        for i, c in enumerate(checks)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [
        slot
        if slot is not None
        else CheckResult(
            check.service,
            started_at,
            False,
            timeout_s * 1000,
            f"no answer within {timeout_s:g} s",
        )
        for slot, check in zip(slots, checks, strict=True)
    ]


# --- HTTP services ------------------------------------------------------------------------------


def _get(url: str, timeout_s: float) -> httpx.Response:
    try:
        return httpx.get(url, timeout=timeout_s, follow_redirects=False)
    except httpx.TimeoutException as error:
        raise CheckFailedError(f"{url} did not answer within {timeout_s:g} s") from error
    except httpx.TransportError as error:
        raise CheckFailedError(f"cannot reach {url}: {error}") from error


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise CheckFailedError(
            f"{response.request.url} answered HTTP {response.status_code} without JSON"
        ) from error
    if not isinstance(body, dict):
        raise CheckFailedError(f"{response.request.url} answered an unexpected body")
    return body


def _expect_ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise CheckFailedError(f"{response.request.url} answered HTTP {response.status_code}")


def api_health_check(base_url: str, timeout_s: float) -> Check:
    """Liveness of the API: ``GET /v1/health`` answers ``{"status": "ok"}``."""

    def probe() -> str:
        response = _get(f"{base_url.rstrip('/')}/v1/health", timeout_s)
        _expect_ok(response)
        status = _json(response).get("status")
        if status != "ok":
            raise CheckFailedError(f"the API says its status is {status!r}")
        return "ok"

    return Check("api", probe)


def api_ready_check(base_url: str, timeout_s: float) -> Check:
    """Readiness of the API: a champion loaded and its stores answering (``GET /v1/ready``)."""

    def probe() -> str:
        response = _get(f"{base_url.rstrip('/')}/v1/ready", timeout_s)
        if response.status_code not in (200, 503):
            raise CheckFailedError(f"{response.request.url} answered HTTP {response.status_code}")
        body = _json(response)
        if not body.get("ready"):
            checks = body.get("checks") or {}
            down = [
                f"{name} ({check.get('detail') or 'down'})"
                for name, check in checks.items()
                if isinstance(check, dict) and not check.get("ok")
            ]
            raise CheckFailedError("not ready: " + ("; ".join(down) or "no reason given"))
        return f"serving model version {body.get('model_version') or '?'}"

    return Check("api_ready", probe)


def dashboard_check(base_url: str, timeout_s: float) -> Check:
    """The dashboard's Streamlit server: ``GET /_stcore/health`` answers ``ok``."""

    def probe() -> str:
        response = _get(f"{base_url.rstrip('/')}/_stcore/health", timeout_s)
        _expect_ok(response)
        return response.text.strip()[:100] or "ok"

    return Check("dashboard", probe)


def dagster_check(base_url: str, timeout_s: float) -> Check:
    """The Dagster webserver: ``GET /server_info`` answers with its version."""

    def probe() -> str:
        response = _get(f"{base_url.rstrip('/')}/server_info", timeout_s)
        _expect_ok(response)
        version = _json(response).get("dagster_webserver_version", "?")
        return f"dagster webserver {version}"

    return Check("dagster", probe)


def s3_check(endpoint_url: str, timeout_s: float) -> Check:
    """The S3 endpoint answers HTTP at all (an anonymous request is refused, which is fine)."""

    def probe() -> str:
        response = _get(endpoint_url, timeout_s)
        if response.status_code >= 500:
            raise CheckFailedError(f"{endpoint_url} answered HTTP {response.status_code}")
        return f"answers HTTP {response.status_code}"

    return Check("s3", probe)


# --- stores -------------------------------------------------------------------------------------


def warehouse_check(url: str, timeout_s: float) -> Check:
    """The warehouse runs ``SELECT 1``.

    A DuckDB file is opened read-only (a missing file is reported, not created);
    one held by a writer (the ETL) is busy, not down. PostgreSQL gets a connect timeout.
    """

    def probe() -> str:
        parsed = sa.make_url(url)
        backend = parsed.get_backend_name()
        connect_args: dict[str, Any]
        if backend == "duckdb":
            database = parsed.database or ""
            if database and database != ":memory:" and not Path(database).expanduser().is_file():
                raise CheckFailedError(
                    f"no warehouse file at {database} yet: run `roadtest etl` to create it"
                )
            connect_args = {"read_only": True}
        elif backend == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
            connect_args = {"connect_timeout": max(1, round(timeout_s))}
        else:
            raise CheckFailedError(
                f"the warehouse URL is neither DuckDB nor PostgreSQL ({parsed.drivername})"
            )
        engine = sa.create_engine(parsed, connect_args=connect_args, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
        except sa.exc.DBAPIError as error:
            if backend == "duckdb" and is_lock_conflict(error):
                return "duckdb, busy: another process is writing"
            raise CheckFailedError(f"{backend} does not answer: {error.orig}") from error
        finally:
            engine.dispose()
        return f"{backend} answers"

    return Check("warehouse", probe)


def lake_check(settings: Settings) -> Check:
    """The lake lists its bronze Delta tables (local folder or S3 bucket)."""

    def probe() -> str:
        lake = Lake.from_settings(settings)
        versions = {table.value: lake.bronze_version(table) for table in SourceTable}
        if all(v is None for v in versions.values()):
            return "reachable, no bronze table yet"
        return "bronze versions " + ", ".join(
            f"{name} {'-' if v is None else v}" for name, v in versions.items()
        )

    return Check("lake", probe)


def registry_check(tracking_uri: str, timeout_s: float) -> Check:
    """The model registry answers a search of registered models.

    An MLflow server is asked over its REST API with a timeout (its Python client
    retries for minutes); a local sqlite store is read in place and a missing
    one is reported, never created.
    """

    def probe() -> str:
        if tracking_uri.startswith(("http://", "https://")):
            url = f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/registered-models/search"
            response = _get(f"{url}?max_results=100", timeout_s)
            _expect_ok(response)
            count = len(_json(response).get("registered_models", []))
            return f"MLflow server, {count} registered model(s)"
        if tracking_uri.startswith("sqlite:"):
            database = sa.make_url(tracking_uri).database
            if not database or not Path(database).expanduser().is_file():
                raise CheckFailedError(
                    f"no model registry at {database} yet: run `roadtest train` to create it"
                )
        from mlflow import MlflowClient

        models = MlflowClient(tracking_uri).search_registered_models(max_results=100)
        return f"{len(models)} registered model(s)"

    return Check("registry", probe)


def checks_from_settings(settings: Settings) -> list[Check]:
    """Every check the settings configure: the stores always, URL services when given."""
    timeout = settings.monitor_timeout_seconds
    checks: list[Check] = []
    if settings.api_url:
        checks += [
            api_health_check(settings.api_url, timeout),
            api_ready_check(settings.api_url, timeout),
        ]
    if settings.dashboard_url:
        checks.append(dashboard_check(settings.dashboard_url, timeout))
    checks += [
        warehouse_check(settings.resolved_warehouse_url(), timeout),
        lake_check(settings),
        registry_check(settings.resolved_mlflow_tracking_uri(), timeout),
    ]
    if settings.s3_endpoint_url:
        checks.append(s3_check(settings.s3_endpoint_url, timeout))
    if settings.dagster_url:
        checks.append(dagster_check(settings.dagster_url, timeout))
    return checks


def redactor_of(settings: Settings) -> Callable[[str], str]:
    """The function removing the settings' secrets from a detail before it is stored."""
    return Redactor(settings).clean
