"""Scoring vehicles for the API: features, the champion, percentiles, storage.

A vehicle given by KNR is scored from its rows of the feature marts, with the
same ``LoadedModel.score`` that ``roadtest predict`` uses, so the API and the
offline pipeline give the same probability. A vehicle given by its partner
rows goes through ``examples_from_partner_rows`` (the lake's validation and the
ETL's transforms) first. Every probability served is written to the
warehouse's predictions table before the response leaves.

A batch is scored with one warehouse read and one model call for all its KNR
vehicles, and one warehouse write for all its predictions, which is what
makes thousands of vehicles a second possible; each vehicle given by rows is
transformed on its own, so one vehicle's rows can never reach another's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel

from roadtest.contracts.partner import SourceTable
from roadtest.features import examples_from_partner_rows
from roadtest.serving.checks import checks_for, group_id_of
from roadtest.serving.errors import ApiError
from roadtest.serving.marts import read_marts
from roadtest.serving.metrics import ApiMetrics
from roadtest.serving.model_holder import ModelHolder, Served
from roadtest.serving.schemas import (
    FailureGroup,
    FieldError,
    ItemError,
    Prediction,
    QuarantinedRow,
    VehicleInput,
    VehicleRows,
)
from roadtest.training.scoring import TOP_GROUPS, LoadedModel
from roadtest.warehouse import Transaction, Warehouse
from roadtest.warehouse.errors import DuplicateKeyError
from roadtest.warehouse.schema import PREDICTIONS
from roadtest.warehouse.store import utc_now

Source = Literal["knr", "rows"]

_STORE_ATTEMPTS: Final = 3


@dataclass
class Scored:
    """One vehicle scored, before it becomes a response body."""

    knr: str
    probability: float
    group_probabilities: np.ndarray
    features_as_of: datetime | None
    source: Source
    quarantined: list[QuarantinedRow] = field(default_factory=list)


Outcome = Scored | ItemError


def no_model_error() -> ApiError:
    """503 while no champion could be loaded."""
    return ApiError(
        503,
        "No champion model is loaded: train one (`roadtest train` or POST /v1/training-runs) "
        "or promote a version; GET /v1/ready shows why the last load failed, if one did.",
    )


def unknown_knr_error(knr: str) -> ItemError:
    """What a KNR without data in the warehouse answers."""
    return ItemError(
        status=404,
        detail=f"KNR {knr} has no data in the warehouse; ingest its exports (POST /v1/ingest) "
        "or send its rows instead.",
    )


def unusable_rows_error(knr: str, quarantined: list[QuarantinedRow]) -> ItemError:
    """422 for a vehicle none of whose rows could be used, with each row's reason."""
    errors = [
        FieldError(loc=["rows", q.table, q.row], msg=q.reason, type="row_unusable")
        for q in quarantined
    ] or [
        FieldError(
            loc=["rows"],
            msg="no row is known before the road test (all are at or after its start)",
            type="rows_unusable",
        )
    ]
    return ItemError(
        status=422,
        detail=f"No usable row for KNR {knr}: {errors[0].msg}"
        + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        + ".",
        errors=errors,
    )


def _frames(rows: VehicleRows) -> dict[SourceTable, pl.DataFrame]:
    """A vehicle's rows as partner-column frames of text cells (what an export holds)."""
    lists: dict[SourceTable, Sequence[BaseModel]] = {
        SourceTable.RESULTADOS: rows.RESULTADOS,
        SourceTable.STATUS: rows.STATUS,
        SourceTable.FALHAS: rows.FALHAS,
    }
    frames: dict[SourceTable, pl.DataFrame] = {}
    for table, items in lists.items():
        records = [
            {key: _cell_text(value) for key, value in item.model_dump().items()} for item in items
        ]
        frames[table] = (
            pl.DataFrame(records, schema=dict.fromkeys(records[0], pl.String()))
            if records
            else pl.DataFrame()
        )
    return frames


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _quarantined(rejected: pl.DataFrame) -> list[QuarantinedRow]:
    return [
        QuarantinedRow(table=str(table), row=int(number) - 1, reason=str(reason))
        for table, number, reason in rejected.select("table", "_row_number", "reason").iter_rows()
    ]


class Predictor:
    """Scores vehicles with the serving champion and stores every prediction."""

    def __init__(
        self,
        warehouse: Warehouse,
        holder: ModelHolder[LoadedModel],
        metrics: ApiMetrics,
        top_groups: int = TOP_GROUPS,
    ) -> None:
        self._warehouse = warehouse
        self._holder = holder
        self._metrics = metrics
        self._top_groups = top_groups

    def served(self) -> Served[LoadedModel]:
        """The model serving now, or 503."""
        served = self._holder.served
        if served is None:
            raise no_model_error()
        return served

    def predict(
        self, vehicles: Sequence[VehicleInput], started: float
    ) -> tuple[Served[LoadedModel], list[Prediction | ItemError]]:
        """One outcome per vehicle, in order; stored before returning.

        ``started`` is the request's ``time.perf_counter()`` start, for ``elapsed_ms``.
        """
        served = self.served()
        done, instants = self._score_and_store(served.model, vehicles)
        scored = [o for o in done if isinstance(o, Scored)]
        self._metrics.observe_scores([s.probability for s in scored if s.source == "knr"], "knr")
        self._metrics.observe_scores([s.probability for s in scored if s.source == "rows"], "rows")
        elapsed = (time.perf_counter() - started) * 1000
        percentiles = served.percentile(np.array([s.probability for s in scored]))
        results: list[Prediction | ItemError] = []
        position = 0
        for outcome in done:
            if isinstance(outcome, ItemError):
                results.append(outcome)
                continue
            percentile = None if percentiles is None else float(percentiles[position])
            instant = instants[position]
            results.append(self._response(served.model, outcome, percentile, instant, elapsed))
            position += 1
        return served, results

    def _score_and_store(
        self, model: LoadedModel, vehicles: Sequence[VehicleInput]
    ) -> tuple[list[Outcome], list[datetime]]:
        """Every vehicle's outcome, in order, and the ``predicted_at`` stored for each scored one.

        The vehicles are read and their predictions written in one transaction. Should
        another worker have stored the same KNR in the same microsecond (the key is
        KNR, version, instant), that transaction is rolled back (it only read) and the
        predictions are stored again a few microseconds later.
        """
        outcomes: list[Outcome | None] = [None] * len(vehicles)
        by_knr = [(i, v.knr) for i, v in enumerate(vehicles) if v.knr is not None]
        by_rows = [(i, v.rows) for i, v in enumerate(vehicles) if v.rows is not None]
        for index, outcome in self._score_rows(model, by_rows):
            outcomes[index] = outcome
        if not by_knr and not any(isinstance(o, Scored) for o in outcomes):
            return [o for o in outcomes if o is not None], []  # nothing to read or store
        done: list[Outcome] = []
        scored: list[Scored] = []
        instants: list[datetime] = []
        try:
            with self._warehouse.transaction() as tx:
                for index, outcome in self._score_knrs(tx, model, by_knr):
                    outcomes[index] = outcome
                done = [o for o in outcomes if o is not None]
                scored = [o for o in done if isinstance(o, Scored)]
                instants = _instants(scored, utc_now())
                if scored:
                    tx.record_predictions(_prediction_rows(model, scored, instants))
        except DuplicateKeyError:
            instants = self._store_again(model, scored, instants[0])
        return done, instants

    def _score_knrs(
        self, tx: Transaction, model: LoadedModel, items: list[tuple[int, str]]
    ) -> list[tuple[int, Outcome]]:
        if not items:
            return []
        features, events = read_marts(tx, [knr for _, knr in items])
        found: dict[str, Scored] = {}
        if features.height:
            p_fail, p_groups = model.score(features, events)
            pairs = zip(features["knr"].to_list(), features["as_of"].to_list(), strict=True)
            for row, (knr, as_of) in enumerate(pairs):
                found[knr] = Scored(knr, float(p_fail[row]), p_groups[row], as_of, "knr")
        return [(i, found.get(knr) or unknown_knr_error(knr)) for i, knr in items]

    def _score_rows(
        self, model: LoadedModel, items: list[tuple[int, VehicleRows]]
    ) -> list[tuple[int, Outcome]]:
        outcomes: list[tuple[int, Outcome]] = []
        for index, rows in items:
            frames = _frames(rows)
            features, events, rejected = examples_from_partner_rows(
                frames[SourceTable.RESULTADOS],
                frames[SourceTable.STATUS],
                frames[SourceTable.FALHAS],
            )
            quarantined = _quarantined(rejected)
            if features.height == 0:
                outcomes.append((index, unusable_rows_error(rows.knr, quarantined)))
                continue
            p_fail, p_groups = model.score(features, events)
            as_of = features.get_column("as_of")[0]
            outcomes.append(
                (index, Scored(rows.knr, float(p_fail[0]), p_groups[0], as_of, "rows", quarantined))
            )
        return outcomes

    def _store_again(
        self, model: LoadedModel, scored: list[Scored], base: datetime
    ) -> list[datetime]:
        """Store predictions whose instants collided, each try a few microseconds later."""
        for _ in range(_STORE_ATTEMPTS - 1):
            base += timedelta(microseconds=len(scored))
            instants = _instants(scored, base)
            try:
                self._warehouse.record_predictions(_prediction_rows(model, scored, instants))
                return instants
            except DuplicateKeyError:
                continue
        base += timedelta(microseconds=len(scored))
        instants = _instants(scored, base)
        self._warehouse.record_predictions(_prediction_rows(model, scored, instants))
        return instants

    def _response(
        self,
        model: LoadedModel,
        scored: Scored,
        percentile: float | None,
        predicted_at: datetime,
        elapsed_ms: float,
    ) -> Prediction:
        return Prediction(
            knr=scored.knr,
            probability=scored.probability,
            decision=scored.probability >= model.threshold,
            threshold=model.threshold,
            risk_percentile=percentile,
            failure_groups=self._groups(model, scored.group_probabilities),
            model_version=model.version,
            features_as_of=scored.features_as_of,
            predicted_at=predicted_at,
            source=scored.source,
            quarantined_rows=scored.quarantined,
            elapsed_ms=elapsed_ms,
        )

    def _groups(self, model: LoadedModel, probabilities: np.ndarray) -> list[FailureGroup]:
        catalogue = group_catalogue(model.group_names)
        order = np.argsort(-probabilities, kind="stable")[: self._top_groups]
        return [
            FailureGroup(
                group=catalogue[i][0],
                group_id=catalogue[i][1],
                probability=float(probabilities[i]),
                checks=list(catalogue[i][2]),
            )
            for i in order
        ]


@lru_cache(maxsize=8)
def group_catalogue(names: tuple[str, ...]) -> tuple[tuple[str, int | None, tuple[str, ...]], ...]:
    """(name, S_GROUP_ID, checks) of each of a model's failure groups, looked up once per model."""
    return tuple((name, group_id_of(name), tuple(checks_for(name))) for name in names)


def _instants(scored: list[Scored], base: datetime) -> list[datetime]:
    """``base`` for each prediction; the n-th repeat of a KNR gets ``base`` + n microseconds."""
    seen: dict[str, int] = {}
    instants = []
    for item in scored:
        repeat = seen.get(item.knr, 0)
        seen[item.knr] = repeat + 1
        instants.append(base + timedelta(microseconds=repeat))
    return instants


def _prediction_rows(
    model: LoadedModel, scored: list[Scored], instants: list[datetime]
) -> pl.DataFrame:
    """Rows of the predictions table."""
    return pl.DataFrame(
        {
            "knr": [s.knr for s in scored],
            "model_version": [model.version] * len(scored),
            "probability": [s.probability for s in scored],
            "decision": [s.probability >= model.threshold for s in scored],
            "predicted_at": instants,
            "features_as_of": [s.features_as_of for s in scored],
        },
        schema=PREDICTIONS.schema(),
    )
