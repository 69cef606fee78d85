"""Builders of mart rows for the feature tests (no tests here; shared by test_features_*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from roadtest.contracts.partner import PARTNER_COLUMNS, SourceTable
from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, MART_VEHICLE_FEATURES
from roadtest.etl.engines import run_transforms
from roadtest.lake.validate import validate_rows
from roadtest.simulate import SimulatedPlant

START = datetime(2024, 1, 8, 6, 0)
INGESTED_AT = datetime(2024, 2, 1, 12, tzinfo=UTC)

EVENT_DEFAULTS: dict[str, Any] = {
    "event_type": "result",
    "code": "012001",
    "detail": "1",
    "id_group": 2,
    "status": 10,
    "value": 15.0,
    "is_nok": False,
    "is_rework": False,
}


def events_frame(*vehicles: tuple[str, list[dict[str, Any]]]) -> pl.DataFrame:
    """mart_vehicle_events rows: per vehicle, its events in order, one minute apart by default.

    Each event dict overrides ``EVENT_DEFAULTS``; ``minute`` sets its time offset.
    """
    rows = []
    for knr, events in vehicles:
        for seq, event in enumerate(events):
            minute = event.get("minute", seq)
            fields = {k: v for k, v in event.items() if k != "minute"}
            rows.append(
                {
                    **EVENT_DEFAULTS,
                    **fields,
                    "knr": knr,
                    "seq": seq,
                    "data": START + timedelta(minutes=minute),
                    "t_offset_seconds": 60.0 * minute,
                    "dt_prev_seconds": 0.0,
                }
            )
    return pl.DataFrame(rows, schema=MART_VEHICLE_EVENTS.schema()).select(
        MART_VEHICLE_EVENTS.column_names
    )


def features_frame(*knrs: str, **columns: list[Any]) -> pl.DataFrame:
    """mart_vehicle_features rows of ``knrs``: zeros and nulls except the given ``columns``."""
    schema = MART_VEHICLE_FEATURES.schema()
    data: dict[str, list[Any]] = {}
    for name, dtype in schema.items():
        if name in columns:
            data[name] = columns[name]
        elif name == "knr":
            data[name] = list(knrs)
        elif dtype == pl.Boolean:
            data[name] = [False] * len(knrs)
        elif dtype in (pl.Int64, pl.Float64):
            data[name] = [0] * len(knrs)
        elif isinstance(dtype, pl.Datetime):
            data[name] = [START] * len(knrs)
        else:
            data[name] = [None] * len(knrs)
    return pl.DataFrame(data, schema=schema)


def export_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Export-form cells as the text a CSV file would hold."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.to_string("%Y-%m-%d %H:%M:%S"),
        pl.all().exclude(pl.Datetime).cast(pl.String),
    )


def ingest_like_files(plant: SimulatedPlant, every: int = 3) -> dict[str, pl.DataFrame]:
    """The warehouse of every ``every``-th vehicle of ``plant`` (in KNR order, so old and new
    vehicles alike) as the lake path makes it: one file per export, all those vehicles at once.
    """
    knrs = plant.truth.get_column("KNR").sort().gather_every(every)
    bronze = {}
    for table, frame in plant.tables().items():
        rows = frame.filter(pl.col("KNR").is_in(knrs.implode())).select(PARTNER_COLUMNS[table])
        raw = export_text(rows).with_columns(
            pl.lit(f"{table.value.lower():0<64}").alias("_file_hash"),
            pl.lit(f"{table.value}.csv").alias("_source_file"),
            pl.lit(None, pl.String).alias("_sheet"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row_number"),
            pl.lit(INGESTED_AT).alias("_ingested_at"),
        )
        valid, quarantined = validate_rows(raw, SourceTable(table))
        assert quarantined.height == 0, quarantined.get_column("reason").head(3).to_list()
        bronze[SourceTable(table)] = valid
    return run_transforms(bronze, engine="polars")
