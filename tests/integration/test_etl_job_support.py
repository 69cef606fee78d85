"""Hand-made bronze exports for the ETL and data-quality tests (no tests here).

A few vehicles with a known story each — which reached the road test, which
failed it, which has a broken zone chain — so a test can say exactly which
vehicles a new file must change and how.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from roadtest.contracts.partner import SourceTable, bronze_schema
from roadtest.lake import Lake

LINE_START = datetime(2024, 3, 4, 6, 0, 0)
CHAIN = ("R750", "L540", "G700", "M600", "M620", "M700")


@dataclass(frozen=True)
class Car:
    """One vehicle's story."""

    knr: str
    reaches_road_test: bool = True
    fails_road_test: bool = False
    broken_chain: bool = False
    torque: float = 25.0

    def at(self, hours: float) -> datetime:
        """A moment of this car's line time: each car starts an hour after the previous one."""
        offset = int(self.knr[-3:])
        return LINE_START + timedelta(hours=offset + hours)


def file_hash(label: str) -> str:
    """A stable sha256-shaped file id for a test file."""
    return hashlib.sha256(label.encode()).hexdigest()


def _with_lineage(
    rows: list[dict[str, object]], table: SourceTable, label: str, ingested: datetime
) -> pl.DataFrame:
    lineage = {
        "_file_hash": file_hash(label),
        "_source_file": f"{label}.csv",
        "_sheet": None,
        "_ingested_at": ingested,
        "_flags": "",
    }
    full = [{**row, **lineage, "_row_number": i + 1} for i, row in enumerate(rows)]
    return (
        pl.DataFrame(full, schema=bronze_schema(table), orient="row")
        if full
        else pl.DataFrame(schema=bronze_schema(table))
    )


def status_file(cars: Iterable[Car], label: str, ingested: datetime) -> pl.DataFrame:
    """Zone passages: the main chain (one zone skipped when broken), then M710 if reached."""
    rows: list[dict[str, object]] = []
    for car in cars:
        codes = [c for c in CHAIN if not (car.broken_chain and c == "G700")]
        rows += [
            {"KNR": car.knr, "STATUS": c, "DATA": car.at(i * 0.1)} for i, c in enumerate(codes)
        ]
        if car.reaches_road_test:
            rows.append({"KNR": car.knr, "STATUS": "M710", "DATA": car.at(0.7)})
    return _with_lineage(rows, SourceTable.STATUS, label, ingested)


def results_file(cars: Iterable[Car], label: str, ingested: datetime) -> pl.DataFrame:
    """Two bolting results per car, one repeated as an exact duplicate."""
    rows: list[dict[str, object]] = []
    for car in cars:
        base = {"KNR": car.knr, "NAME": "012001", "ID": 2, "UNIT": "Nm"}
        rows += [
            {**base, "STATUS": 10, "VALUE_ID": "1", "VALUE": car.torque, "DATA": car.at(0.15)},
            {**base, "STATUS": 10, "VALUE_ID": "2", "VALUE": 24.0, "DATA": car.at(0.15)},
            {**base, "STATUS": 10, "VALUE_ID": "2", "VALUE": 24.0, "DATA": car.at(0.15)},
        ]
    return _with_lineage(rows, SourceTable.RESULTADOS, label, ingested)


def defects_file(
    cars: Iterable[Car], label: str, ingested: datetime, *, road_test: bool
) -> pl.DataFrame:
    """A line defect in ZP6 for every car; with ``road_test``, ROD defects of failing cars."""
    rows: list[dict[str, object]] = []
    for car in cars:
        base = {
            "KNR": car.knr,
            "MODELO": "M1",
            "COR": "2R2R",
            "MOTOR": "DHS",
            "ESTACAO": "HCEQS506",
            "USUARIO": "U1",
        }
        if not road_test:
            rows.append(
                {
                    **base,
                    "HALLE": "ZP6",
                    "FALHA": "PORTA 01. RISCO",
                    "S_GROUP_ID": 4,
                    "DATA": car.at(0.35),
                }
            )
        elif car.fails_road_test:
            rows.append(
                {
                    **base,
                    "HALLE": "ROD",
                    "FALHA": "RUIDO 02. BARULHO",
                    "S_GROUP_ID": 9830946,
                    "DATA": car.at(0.8),
                }
            )
    return _with_lineage(rows, SourceTable.FALHAS, label, ingested)


def ingest_day(lake: Lake, cars: list[Car], label: str, day: int) -> None:
    """Append the three exports of a day for ``cars`` (FALHAS without road-test defects)."""
    ingested = datetime(2024, 4, day, 12, 0, tzinfo=UTC)
    lake.append_bronze(SourceTable.STATUS, status_file(cars, f"{label}-status", ingested))
    lake.append_bronze(SourceTable.RESULTADOS, results_file(cars, f"{label}-results", ingested))
    lake.append_bronze(
        SourceTable.FALHAS, defects_file(cars, f"{label}-falhas", ingested, road_test=False)
    )


def ingest_road_test_defects(lake: Lake, cars: list[Car], label: str, day: int) -> None:
    """Append a late FALHAS export holding the road-test defects of ``cars``."""
    ingested = datetime(2024, 4, day, 12, 0, tzinfo=UTC)
    lake.append_bronze(SourceTable.FALHAS, defects_file(cars, label, ingested, road_test=True))


def ingest_late_line_defect(lake: Lake, car: Car, label: str, day: int) -> None:
    """Append a late FALHAS export with one more pre-road-test defect of ``car`` (in ZP5)."""
    ingested = datetime(2024, 4, day, 12, 0, tzinfo=UTC)
    row = {
        "KNR": car.knr,
        "MODELO": "M1",
        "COR": "2R2R",
        "MOTOR": "DHS",
        "ESTACAO": "HCEQS501",
        "USUARIO": "U2",
        "HALLE": "ZP5",
        "FALHA": "PARALAMA 01. AMASSADO",
        "S_GROUP_ID": 5,
        "DATA": car.at(0.05),
    }
    lake.append_bronze(
        SourceTable.FALHAS, _with_lineage([row], SourceTable.FALHAS, label, ingested)
    )


def resend_corrected_results(lake: Lake, car: Car, torque: float, label: str, day: int) -> None:
    """Append a re-sent RESULTADOS export of ``car`` whose first torque value is corrected."""
    ingested = datetime(2024, 4, day, 12, 0, tzinfo=UTC)
    fixed = Car(car.knr, car.reaches_road_test, car.fails_road_test, car.broken_chain, torque)
    lake.append_bronze(SourceTable.RESULTADOS, results_file([fixed], label, ingested))
