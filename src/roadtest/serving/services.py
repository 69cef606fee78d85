"""What the API talks to: the warehouse, the lake, the registry, and how to load and train.

``create_app`` builds these from the settings unless it is handed a
``Services``; tests hand it stores in a temporary folder, or a model loader
that fails, without touching the app itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from roadtest.config import Settings
from roadtest.lake import Lake
from roadtest.progress import Progress
from roadtest.serving.schemas import TrainingRunRequest
from roadtest.serving.training_runs import run_pipeline
from roadtest.training.registry import Registry
from roadtest.training.scoring import LoadedModel, load_version
from roadtest.warehouse import Warehouse
from roadtest.warehouse.training_runs import Outcome

LoadModel = Callable[[Registry, str], LoadedModel]
Train = Callable[[Warehouse, Registry, TrainingRunRequest, Progress], Outcome]


@dataclass(frozen=True)
class Services:
    """The stores and functions one API process uses."""

    warehouse: Warehouse
    lake: Lake
    registry: Registry
    load_model: LoadModel = load_version
    train: Train = run_pipeline

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """The stores the settings point at."""
        return cls(
            warehouse=Warehouse.from_settings(settings),
            lake=Lake.from_settings(settings),
            registry=Registry.from_settings(settings),
        )


class Redactor:
    """Removes secrets of the settings from text shown to callers or written to logs."""

    def __init__(self, settings: Settings) -> None:
        secrets: list[str] = []
        for secret in (settings.s3_access_key_id, settings.s3_secret_access_key):
            if secret is not None and secret.get_secret_value():
                secrets.append(secret.get_secret_value())
        for url in (settings.warehouse_url, settings.mlflow_tracking_uri):
            password = _url_password(url)
            if password:
                secrets.append(password)
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def clean(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _url_password(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    try:
        password = sa.make_url(url).password
        return None if password is None else str(password)
    except sa.exc.ArgumentError:
        return None
