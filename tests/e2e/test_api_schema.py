"""Schemathesis over the OpenAPI schema: no server error, no response outside the schema.

Every operation is exercised with generated valid (positive) and invalid
(negative) inputs, with a write key so the write endpoints run too. The
operations are driven one by one with Hypothesis (schemathesis' own pytest
loader does not run on pytest 9 yet). Training runs use a stand-in trainer
(a real run takes minutes); everything else is the real app on a copy of the
trained plant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import shutdown_lifespans

from roadtest.progress import Progress
from roadtest.serving import Services, create_app
from roadtest.serving.schemas import TrainingRunRequest
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse
from tests.integration.test_api_support import (  # noqa: F401
    WRITE_KEY,
    TrainedPlant,
    api_settings,
    copy_home,
    trained_plant_fixture,
)

pytestmark = pytest.mark.slow

EXAMPLES = 20
"""Generated requests per operation and mode."""

REQUEST_TIMEOUT_S = 120
"""Schemathesis gives up on a response after 10 s by default; on the 2-core CI machine
under load an ingest request (the first one imports the ETL and opens the lake) has
taken longer. This test is about status codes and schemas, not speed."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class QuickRun:
    """What the stand-in trainer returns."""

    run_id: str = "stand-in"
    registered_version: str = "1"

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "registered_version": self.registered_version}


def quick_train(
    warehouse: Warehouse, registry: Registry, request: TrainingRunRequest, progress: Progress
) -> QuickRun:
    progress.start("train", total=1)
    progress.finish("train")
    return QuickRun()


@pytest.fixture(scope="module")
def api_app(
    trained_plant: TrainedPlant,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FastAPI]:
    home = copy_home(trained_plant, tmp_path_factory.mktemp("api_schema") / "home")
    settings_ = api_settings(home, api_max_batch_vehicles=5, api_max_upload_bytes=65536)
    services = Services.from_settings(settings_)
    yield create_app(
        settings_,
        services=Services(
            warehouse=services.warehouse,
            lake=services.lake,
            registry=services.registry,
            train=quick_train,
        ),
    )
    shutdown_lifespans()


OPERATIONS = [
    ("POST", "/v1/predictions"),
    ("POST", "/v1/predictions/batch"),
    ("GET", "/v1/vehicles/{knr}/prediction"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{version}"),
    ("POST", "/v1/models/{version}/promote"),
    ("POST", "/v1/ingest"),
    ("POST", "/v1/training-runs"),
    ("GET", "/v1/training-runs/{run_id}"),
    ("GET", "/v1/health"),
    ("GET", "/v1/ready"),
    ("GET", "/v1/metrics"),
]


@pytest.fixture(scope="module")
def api_schema(api_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/v1/openapi.json", api_app)


def test_every_operation_of_the_schema_is_exercised(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
    found = {(op.method.upper(), op.path) for op in operations}
    assert found == set(OPERATIONS)


WITHOUT_INPUTS = {
    ("GET", "/v1/models"),
    ("GET", "/v1/health"),
    ("GET", "/v1/ready"),
    ("GET", "/v1/metrics"),
}
"""Operations with no parameter or body: there is no invalid input to send them."""

CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) not in WITHOUT_INPUTS
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_to_its_schema(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers={"X-API-Key": WRITE_KEY}, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
        )

    conforms()
