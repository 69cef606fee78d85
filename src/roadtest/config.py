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
