"""The one typed Settings object of roadtest.

Every embedded default (lake folder, warehouse file, MLflow store) lives under
``ROADTEST_HOME`` so that one folder is the whole state of a single-machine
install, and one variable moves it. Servers (S3, PostgreSQL, an MLflow tracking
server) are chosen by giving their URL. Secrets have no defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration read from ``ROADTEST_*`` environment variables (or a ``.env`` file)."""

    model_config = SettingsConfigDict(
        env_prefix="ROADTEST_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    home: Path = Field(
        default=Path("data"),
        description="Root folder of every embedded default: lake, warehouse file, MLflow store.",
    )
    lake_uri: str | None = Field(
        default=None,
        description="Lake location: a folder path or s3://bucket/prefix. Default: HOME/lake.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint for an s3:// lake, e.g. http://127.0.0.1:8333."
    )
    s3_region: str = Field(default="us-east-1", description="S3 region name.")
    s3_access_key_id: SecretStr | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret access key."
    )
    warehouse_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the warehouse: duckdb:///path or postgresql+psycopg://... "
            "Default: a DuckDB file HOME/warehouse.duckdb."
        ),
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI. Default: a sqlite store HOME/mlflow.db.",
    )

    api_key_hashes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "SHA-256 hex digests of the API keys allowed to change things (ingest, promote, "
            "training runs) and to read; comma-separated. No key is valid until one is set."
        ),
    )
    api_read_key_hashes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="SHA-256 hex digests of read-only API keys; comma-separated.",
    )
    api_read_auth: bool = Field(
        default=False, description="Require an API key for reads (predictions, models) too."
    )
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins the API accepts (CORS), comma-separated; none by default.",
    )
    api_max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest JSON request body the API accepts."
    )
    api_max_upload_bytes: int = Field(
        default=256 * 1_048_576,
        ge=1024,
        description="Largest multipart upload POST /v1/ingest accepts.",
    )
    api_max_batch_vehicles: int = Field(
        default=1000, ge=1, description="Most vehicles one POST /v1/predictions/batch may carry."
    )
    api_model_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often the API checks whether the champion alias moved."
    )
    api_log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Level of the API's JSON log lines."
    )
    api_percentile_vehicles: int = Field(
        default=2000,
        ge=1,
        description="Recent vehicles whose risk a prediction's percentile is ranked against.",
    )

    api_url: str | None = Field(
        default=None,
        description="Base URL of the roadtest API, e.g. http://127.0.0.1:8000; the monitor "
        "checks GET /v1/health and /v1/ready there (not checked when unset).",
    )
    dashboard_url: str | None = Field(
        default=None,
        description="Base URL of the dashboard, e.g. http://127.0.0.1:8501; the monitor checks "
        "GET /_stcore/health there (not checked when unset).",
    )
    dagster_url: str | None = Field(
        default=None,
        description="Base URL of the Dagster webserver, e.g. http://127.0.0.1:3000; the monitor "
        "checks GET /server_info there (not checked when unset).",
    )
    dagster_storage_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql+psycopg2://user:password@host:port/database: "
        "dagster-postgres talks psycopg2) where the orchestrator keeps its runs, event logs "
        "and schedules; SQLite under DAGSTER_HOME when unset.",
    )
    monitor_interval_seconds: float = Field(
        default=60.0, gt=0, description="Seconds between two rounds of health checks."
    )
    monitor_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest a health check may take; a service slower than this is down.",
    )
    monitor_unhealthy_after: int = Field(
        default=3,
        ge=1,
        description="Consecutive failed checks after which a service is flagged unhealthy.",
    )
    monitor_buffer_rows: int = Field(
        default=10_000,
        ge=1,
        description="Most health checks kept in memory while the warehouse cannot be written; "
        "the oldest are dropped beyond it.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the worker's Prometheus metrics listen on (127.0.0.1: this "
        "machine only; 0.0.0.0 inside a container).",
    )
    metrics_port: int = Field(
        default=9108, ge=1, le=65535, description="Port of the worker's Prometheus metrics."
    )
    landing_dir: Path | None = Field(
        default=None,
        description="Folder where new export files are dropped; the orchestrator ingests and "
        "loads them. Default: HOME/landing.",
    )
    retrain_cron: str = Field(
        default="0 3 1 * *",
        description="Cron schedule of the regular retraining (default: 03:00 on the 1st of "
        "every month).",
    )
    retrain_timezone: str = Field(
        default="UTC", description="Time zone the retraining cron schedule is read in."
    )
    retrain_models: str = Field(
        default="gru,gbm,logreg",
        description="Comma-separated models an orchestrated retraining trains.",
    )
    drift_psi_threshold: float = Field(
        default=0.25,
        gt=0,
        description="Population stability index of a key feature (champion's training vehicles "
        "against recent ones) above which retraining is triggered.",
    )
    drift_recent_vehicles: int = Field(
        default=500,
        ge=10,
        description="Newest vehicles compared with the champion's training data for drift.",
    )
    performance_drop_threshold: float = Field(
        default=0.10,
        gt=0,
        le=1,
        description="Drop of live recall at the 20 % inspection budget below the champion's "
        "test recall that triggers retraining.",
    )
    performance_min_failures: int = Field(
        default=10,
        ge=1,
        description="Failed road tests with a live prediction needed before live performance "
        "can trigger retraining.",
    )
    training_runner: Literal["api", "worker"] = Field(
        default="api",
        description="Who runs the training runs started with POST /v1/training-runs: api, a "
        "thread of the API process that took the request (needs the train extra there, no "
        "orchestrator); worker, the API only queues them in the warehouse and the orchestrator "
        "(`roadtest orchestrate`, given the same setting) runs them.",
    )
    training_run_stale_s: float = Field(
        default=1800.0,
        ge=60,
        description="Seconds without a sign of life (progress or heartbeat; for a queued run, "
        "since its request) after which a training run counts as lost and is marked failed.",
    )
    alert_webhook_url: str | None = Field(
        default=None,
        description="URL that receives a JSON POST when an orchestrated run fails (optional).",
    )

    @field_validator("api_key_hashes", "api_read_key_hashes", "api_cors_origins", mode="before")
    @classmethod
    def split_comma_list(cls, value: object) -> object:
        """Read a comma-separated environment value as a list (a list passes through)."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("api_key_hashes", "api_read_key_hashes")
    @classmethod
    def check_key_hashes(cls, hashes: list[str]) -> list[str]:
        """Refuse a raw key where its hash belongs, so a secret is never stored in clear."""
        for digest in hashes:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
                raise ValueError(
                    "API keys are configured by their SHA-256 hex digest (64 hex characters), "
                    "never in clear: `python -m roadtest.serving` makes a key and its digest"
                )
        return [digest.lower() for digest in hashes]

    def resolved_lake_uri(self) -> str:
        """The lake root, falling back to the embedded folder under HOME."""
        if self.lake_uri:
            return self.lake_uri
        return str((self.home / "lake").resolve())

    def resolved_warehouse_url(self) -> str:
        """The warehouse URL, falling back to the embedded DuckDB file under HOME."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb:///{(self.home / 'warehouse.duckdb').resolve()}"

    def resolved_mlflow_tracking_uri(self) -> str:
        """The MLflow tracking URI, falling back to the sqlite store under HOME."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    def resolved_landing_dir(self) -> Path:
        """The landing folder for new exports, falling back to HOME/landing."""
        if self.landing_dir is not None:
            return self.landing_dir
        return (self.home / "landing").resolve()

    def s3_storage_options(self) -> dict[str, str]:
        """Object-store options in the form deltalake and pyarrow's S3 client understand."""
        options = {"AWS_REGION": self.s3_region}
        if self.s3_endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.s3_endpoint_url
            if self.s3_endpoint_url.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        if self.s3_access_key_id:
            options["AWS_ACCESS_KEY_ID"] = self.s3_access_key_id.get_secret_value()
        if self.s3_secret_access_key:
            options["AWS_SECRET_ACCESS_KEY"] = self.s3_secret_access_key.get_secret_value()
        return options
