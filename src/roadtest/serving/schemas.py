"""Request and response bodies of the API (Pydantic v2), with the examples OpenAPI shows.

A vehicle is given either by its KNR (its features come from the warehouse) or
by its own rows in the partner's format: the RESULTADOS, STATUS and earlier
FALHAS rows, with the partner's column names and cell values as they appear in
an export. Cells are checked here for shape (which columns, which JSON types);
their content is judged by the same validation the lake applies to exports, so
a row the lake would quarantine is reported back, with its reason, the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from roadtest.contracts.partner import KNR_PATTERN


def check_knr(value: str) -> str:
    """A KNR as the warehouse holds it, or an error that shows what one looks like."""
    if not KNR_PATTERN.match(value):
        raise ValueError(
            f"{value[:40]!r} is not a KNR: a vehicle id is the year, a dash and seven digits, "
            "like 2023-2056234"
        )
    return value


Knr = Annotated[
    str,
    AfterValidator(check_knr),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": KNR_PATTERN.pattern,
            "description": "Vehicle id (KNR): year, dash, seven digits.",
            "examples": ["2023-2056234"],
        }
    ),
]
Cell = str | int | float | None
"""A cell of an export: the API accepts it as text or as a JSON number, like a CSV would hold it."""
Timestamp = str | int | float
"""A DATA cell: text such as ``2023-03-01 08:14:05`` (the export formats), or an Excel serial."""
PlantTime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "description": "Plant-local time as the exports record it: ISO 8601 without a zone.",
            "examples": ["2023-03-01T11:52:00"],
        }
    ),
]
"""A naive plant-local timestamp (JSON Schema's date-time format would demand a zone)."""

_ROW_CONFIG = ConfigDict(extra="forbid")


RESULTADOS_EXAMPLE: Final[dict[str, Any]] = {
    "KNR": "2023-2056234",
    "NAME": "012001",
    "ID": 2,
    "STATUS": 10,
    "UNIT": "Nm",
    "VALUE_ID": "1",
    "VALUE": "24,8",
    "DATA": "2023-03-01 08:14:05",
}
STATUS_EXAMPLE: Final[dict[str, Any]] = {
    "KNR": "2023-2056234",
    "STATUS": "R750",
    "DATA": "2023-03-01 06:02:11",
}
FALHAS_EXAMPLE: Final[dict[str, Any]] = {
    "KNR": "2023-2056234",
    "MODELO": "M1",
    "COR": "2R2R",
    "MOTOR": "DHS",
    "ESTACAO": "HCEQS506",
    "USUARIO": "U0001",
    "HALLE": "ZP6",
    "FALHA": "PARALAMA DIANTEIRO 01. AMASSADO",
    "S_GROUP_ID": 5,
    "DATA": "2023-03-01 09:40:00",
}


class ResultadosRow(BaseModel):
    """One RESULTADOS row: a measured value at a station."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [RESULTADOS_EXAMPLE]})

    KNR: str = Field(max_length=64, description="Vehicle id.")
    NAME: str = Field(
        max_length=128, description="Test program / result id, as text: leading zeros matter."
    )
    ID: Cell = Field(description="Result group: 1 machines, 2 bolting, 718 electrical.")
    STATUS: Cell = Field(description="10 OK, 13 NOK.")
    UNIT: Cell = Field(default=None, description="Unit of VALUE, e.g. Nm; empty when none.")
    VALUE_ID: Cell = Field(default=None, description="Sub-result inside NAME.")
    VALUE: Cell = Field(default=None, description="The measurement (text; decimal comma allowed).")
    DATA: Timestamp = Field(description="Timestamp, e.g. 2023-03-01 08:14:05.")


class StatusRow(BaseModel):
    """One STATUS row: the body passing a rail sensor."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [STATUS_EXAMPLE]})

    KNR: str = Field(max_length=64, description="Vehicle id.")
    STATUS: str = Field(max_length=32, description="Rail-sensor code, e.g. R750 (ZP5 entry).")
    DATA: Timestamp = Field(description="Timestamp of the passage.")


class FalhasRow(BaseModel):
    """One FALHAS row: a defect logged by an inspector before the road test."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [FALHAS_EXAMPLE]})

    KNR: str = Field(max_length=64, description="Vehicle id.")
    MODELO: Cell = Field(default=None, description="Vehicle model.")
    COR: Cell = Field(default=None, description="Paint colour code.")
    MOTOR: Cell = Field(default=None, description="Engine code.")
    ESTACAO: Cell = Field(default=None, description="Inspection station.")
    USUARIO: Cell = Field(default=None, description="Inspector id.")
    HALLE: Cell = Field(description="Zone where the defect was found, e.g. ZP6.")
    FALHA: Cell = Field(default=None, description="Defect text, PART. DEFECT.")
    S_GROUP_ID: Cell = Field(default=None, description="Failure group id.")
    DATA: Timestamp = Field(description="Timestamp of the defect.")


class VehicleRows(BaseModel):
    """A vehicle's own rows in the partner's format (all of one KNR)."""

    model_config = _ROW_CONFIG

    RESULTADOS: list[ResultadosRow] = Field(default_factory=list)
    STATUS: list[StatusRow] = Field(default_factory=list)
    FALHAS: list[FalhasRow] = Field(default_factory=list)

    def all_knrs(self) -> list[str]:
        """The KNR of every row, trimmed, in table order."""
        return [
            *(row.KNR.strip() for row in self.RESULTADOS),
            *(row.KNR.strip() for row in self.STATUS),
            *(row.KNR.strip() for row in self.FALHAS),
        ]

    @model_validator(mode="after")
    def one_vehicle(self) -> VehicleRows:
        """Refuse an empty vehicle or rows of several vehicles: one prediction is one vehicle."""
        knrs = set(self.all_knrs())
        if not knrs:
            raise ValueError("give at least one RESULTADOS, STATUS or FALHAS row of the vehicle")
        if len(knrs) > 1:
            raise ValueError(
                f"rows of one vehicle must share one KNR, found {len(knrs)}: "
                f"{', '.join(sorted(knrs)[:5])}"
            )
        return self

    @property
    def knr(self) -> str:
        """The vehicle's KNR."""
        return self.all_knrs()[0]


class VehicleInput(BaseModel):
    """One vehicle to score: its KNR, or its rows."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"knr": "2023-2056234"},
                {
                    "rows": {
                        "RESULTADOS": [RESULTADOS_EXAMPLE],
                        "STATUS": [STATUS_EXAMPLE],
                        "FALHAS": [FALHAS_EXAMPLE],
                    }
                },
            ]
        },
    )

    knr: Knr | None = Field(
        default=None, description="Score the vehicle from what the warehouse holds about it."
    )
    rows: VehicleRows | None = Field(
        default=None, description="Score the vehicle from these rows alone (partner format)."
    )

    @model_validator(mode="after")
    def knr_or_rows(self) -> VehicleInput:
        """Exactly one way of naming the vehicle."""
        if (self.knr is None) == (self.rows is None):
            raise ValueError("give either knr or rows (exactly one of them)")
        return self


class BatchRequest(BaseModel):
    """Many vehicles in one call."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"vehicles": [{"knr": "2023-2056234"}, {"knr": "2023-2056235"}]}]
        },
    )

    vehicles: list[VehicleInput] = Field(min_length=1, description="The vehicles, in any order.")


def batch_request_model(max_vehicles: int) -> type[BatchRequest]:
    """``BatchRequest`` with the size limit of the settings (documented as maxItems)."""

    class LimitedBatchRequest(BatchRequest):
        vehicles: list[VehicleInput] = Field(
            min_length=1,
            max_length=max_vehicles,
            description=f"The vehicles, in any order; at most {max_vehicles} per call.",
        )

    LimitedBatchRequest.__name__ = "BatchRequest"
    return LimitedBatchRequest


# --- responses ------------------------------------------------------------------


class FailureGroup(BaseModel):
    """A failure group the vehicle may fail the road test in, and what to check for it."""

    group: str = Field(description="Failure-group name, e.g. doors.", examples=["doors"])
    group_id: int | None = Field(description="The partner's S_GROUP_ID; null for unknown.")
    probability: float = Field(ge=0, le=1, description="P(failing the road test in this group).")
    checks: list[str] = Field(description="What to check on the vehicle for this group.")


class QuarantinedRow(BaseModel):
    """A given row that could not be used, and why."""

    table: str = Field(description="RESULTADOS, STATUS or FALHAS.")
    row: int = Field(description="0-based position of the row in its list.")
    reason: str = Field(description="Why the row was set aside.")


class Prediction(BaseModel):
    """The risk of one vehicle failing the road test."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "knr": "2023-2056234",
                    "probability": 0.183,
                    "decision": True,
                    "threshold": 0.09,
                    "risk_percentile": 96.4,
                    "failure_groups": [
                        {
                            "group": "doors",
                            "group_id": 4,
                            "probability": 0.112,
                            "checks": ["Door alignment, gaps and closing effort"],
                        }
                    ],
                    "model_version": "3",
                    "features_as_of": "2023-03-01 11:52:00",
                    "predicted_at": "2023-03-01T14:52:03.120Z",
                    "source": "knr",
                    "quarantined_rows": [],
                    "elapsed_ms": 3.1,
                }
            ]
        }
    )

    knr: str = Field(description="Vehicle id.")
    probability: float = Field(ge=0, le=1, description="Probability of failing the road test.")
    decision: bool = Field(
        description="Send the vehicle to the full road test: probability >= the model's threshold."
    )
    threshold: float = Field(description="The champion's decision threshold.")
    risk_percentile: float | None = Field(
        ge=0,
        le=100,
        description="Share of recent vehicles (percent) with a probability at or below this one; "
        "null when no recent vehicle is known.",
    )
    failure_groups: list[FailureGroup] = Field(
        description="The most likely failure groups, most likely first (empty for a stored "
        "prediction: recompute it for groups)."
    )
    model_version: str = Field(description="Registered model version that scored the vehicle.")
    features_as_of: PlantTime | None = Field(
        description="Plant-local time of the latest record the features saw."
    )
    predicted_at: datetime = Field(description="When the prediction was made (UTC).")
    source: Literal["knr", "rows", "stored"] = Field(
        description="knr: features from the warehouse; rows: from the rows given; "
        "stored: the latest prediction kept in the warehouse."
    )
    quarantined_rows: list[QuarantinedRow] = Field(
        default_factory=list, description="Given rows that were set aside, with the reason."
    )
    elapsed_ms: float = Field(description="Time the API spent on this request (ms).")


class FieldError(BaseModel):
    """One invalid input field."""

    loc: list[str | int] = Field(description="Where: body, then the path to the field.")
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="Error kind.")


class ItemError(BaseModel):
    """Why one vehicle of a batch got no prediction."""

    status: int = Field(description="The status a single-vehicle call would have answered.")
    detail: str = Field(description="What is wrong.")
    errors: list[FieldError] = Field(
        default_factory=list,
        description="For rows that could not be used: one entry per row, located from the "
        "vehicle (rows, table, position).",
    )


class BatchItem(BaseModel):
    """The outcome for one vehicle of a batch, in the order given."""

    index: int = Field(description="0-based position in the request.")
    prediction: Prediction | None = None
    error: ItemError | None = None


class BatchResponse(BaseModel):
    """Outcomes of a batch, one per vehicle given."""

    items: list[BatchItem]
    n_predicted: int = Field(description="Vehicles scored.")
    n_failed: int = Field(description="Vehicles that could not be scored (see their error).")
    model_version: str
    elapsed_ms: float


class ErrorBody(BaseModel):
    """Every error: a message (or field errors) and the request id to find it in the logs."""

    detail: str
    request_id: str | None


class ValidationErrorBody(BaseModel):
    """Invalid input: one entry per offending field."""

    detail: list[FieldError]
    request_id: str | None


# --- operations -------------------------------------------------------------------


class DependencyStatus(BaseModel):
    """The state of one thing the API needs."""

    ok: bool
    detail: str
    latency_ms: float | None = None


class ReadyBody(BaseModel):
    """Readiness: whether the API can serve, and the state of each dependency."""

    ready: bool
    model_version: str | None = Field(description="Version serving now.")
    model_load_error: str | None = Field(
        description="Why the latest champion could not be loaded (the version above serves on)."
    )
    checks: dict[str, DependencyStatus]


class HealthBody(BaseModel):
    """Liveness."""

    status: Literal["ok"]


# --- models ---------------------------------------------------------------------


class ActivationPeriod(BaseModel):
    """A period during which a version was the served champion."""

    active_from: datetime
    active_to: datetime | None = Field(description="Null while it still serves.")


class ModelVersionInfo(BaseModel):
    """A registered model version: metrics, lineage and when it served."""

    version: str
    aliases: list[str]
    created_at: datetime | None
    run_id: str | None
    tags: dict[str, str] = Field(
        description="Registry tags: model kind, test window, promotion outcome and reason."
    )
    metrics: dict[str, float] = Field(description="The version's metrics on its test window.")
    lineage: dict[str, str] = Field(
        description="Where the version came from: lake table versions, row counts, code version."
    )
    activations: list[ActivationPeriod]
    is_champion: bool
    serving: bool = Field(description="This API process is scoring with this version now.")


class ModelList(BaseModel):
    """Registered versions, newest first."""

    model_name: str
    champion: str | None
    serving: str | None
    versions: list[ModelVersionInfo]


class PromotionResult(BaseModel):
    """Outcome of a promotion."""

    model_name: str
    version: str
    previous_champion: str | None = Field(
        description="The champion before (the version itself when it already was)."
    )
    serving: str | None = Field(description="Version this process serves after the promotion.")


# --- ingest ---------------------------------------------------------------------


class IngestedFile(BaseModel):
    """What happened to one uploaded file."""

    name: str
    sha256: str
    size: int
    table: str | None
    outcome: Literal["loaded", "already_ingested", "rejected"]
    rows_read: int
    rows_bronze: int
    rows_quarantined: int
    reason: str | None
    sheets: list[str]


class IngestReport(BaseModel):
    """The lake side: files, rows loaded and quarantined."""

    ok: bool
    totals: dict[str, int]
    files: list[IngestedFile]


class EtlCheck(BaseModel):
    """One data-quality check of the ETL run."""

    name: str
    severity: str
    passed: bool
    observed: float | None
    threshold: float | None
    message: str


class EtlReport(BaseModel):
    """The warehouse side: what the ETL run loaded and how its checks went."""

    run_id: str
    ok: bool
    outcome: str
    message: str
    vehicles_affected: int
    vehicles_labelled: int
    rows_loaded: dict[str, int]
    checks_passed: int
    checks_failed: int
    checks: list[EtlCheck]
    duration_s: float


class IngestResponse(BaseModel):
    """Upload → lake → ETL, summarised."""

    ingest: IngestReport
    etl: EtlReport = Field(
        description="The ETL run that followed (it loads nothing when nothing is new)."
    )
    elapsed_ms: float


# --- training -----------------------------------------------------------------------


class StepProgress(BaseModel):
    """Progress of one step of a training run."""

    done: int
    total: int | None
    finished: bool


ModelName = Literal["gru", "lstm", "gbm", "logreg", "prior"]
"""Models a training run can fit (``training.pipeline.MODEL_CHOICES``)."""


class TrainingRunRequest(BaseModel):
    """What to train; every field is optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"models": ["gru", "gbm"], "max_epochs": 8}]},
    )

    models: list[ModelName] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="Models to fit; the one with the best validation PR-AUC is registered. "
        "Default: gru, lstm, gbm, logreg when the API trains; the worker's "
        "ROADTEST_RETRAIN_MODELS when the worker does (ROADTEST_TRAINING_RUNNER).",
    )
    max_epochs: int | None = Field(
        default=None, ge=1, le=200, description="Epoch limit of the recurrent models."
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Random seed of the run.")


class TrainingRun(BaseModel):
    """A training run started through the API."""

    id: str
    state: Literal["queued", "running", "succeeded", "failed"] = Field(
        description="queued: waiting for the worker to take it (ROADTEST_TRAINING_RUNNER=worker); "
        "running; succeeded; failed (see error)."
    )
    requested_at: datetime = Field(description="When the run was asked for.")
    runner: str | None = Field(
        description="Who runs it: api (a thread of an API process) or dagster (the worker's "
        "orchestrator); null while queued."
    )
    started_at: datetime | None = Field(description="When a runner took it; null while queued.")
    finished_at: datetime | None
    progress: dict[str, StepProgress]
    mlflow_run_id: str | None
    model_version: str | None = Field(description="Registered version, once the run finished.")
    result: dict[str, Any] | None = Field(description="Metrics and outcome, once finished.")
    error: str | None
