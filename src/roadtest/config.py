"""The one typed Settings object of roadtest.

Every embedded default (lake folder, warehouse file, MLflow store) lives under
``ROADTEST_HOME`` so that one folder is the whole state of a single-machine
install, and one variable moves it. Servers (S3, PostgreSQL, an MLflow tracking
server) are chosen by giving their URL. Secrets have no defaults.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration read from ``ROADTEST_*`` environment variables (or a ``.env`` file)."""

    model_config = SettingsConfigDict(
        env_prefix="ROADTEST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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
