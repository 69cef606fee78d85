"""Serving examples from a vehicle's raw partner rows, through the training data path.

Training reads ``mart_vehicle_features`` and ``mart_vehicle_events`` from the
warehouse; serving receives rows as an API body carries them (the partner's
columns, cells as text or typed). ``examples_from_partner_rows`` sends those
rows through the very functions the lake and the ETL use (``validate_rows``,
then ``run_transforms`` on Polars), so the marts of a vehicle are the same
whichever way they were made; ``build_tabular`` / ``build_sequences`` then
apply unchanged. What cannot be typed is returned as quarantined rows with the
validator's reason, never dropped silently.

The marts' ``min_margin*`` columns are the exception: the ETL derives their
spec windows from the vehicles of its run, so they differ between one vehicle
alone and the whole plant; the feature builders do not read them
(``tabular.CROSS_VEHICLE_COLUMNS``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import polars as pl

from roadtest.contracts.partner import PARTNER_COLUMNS, QUARANTINE_SCHEMA, SourceTable
from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, MART_VEHICLE_FEATURES
from roadtest.etl.engines import run_transforms
from roadtest.lake.validate import validate_rows

REQUEST_FILE_HASH: Final = "request"
"""Lineage ``_file_hash`` of rows that came in a request rather than a file."""

REQUEST_SOURCE: Final = "api-request"
"""Lineage ``_source_file`` of rows that came in a request."""

_MARTS: Final = (MART_VEHICLE_FEATURES.name, MART_VEHICLE_EVENTS.name)


def _as_text(column: pl.Series) -> pl.Series:
    """A cell column as the text an export would hold (what the validator parses)."""
    if isinstance(column.dtype, pl.Datetime):
        return column.dt.to_string("%Y-%m-%d %H:%M:%S%.f")
    return column.cast(pl.String)


def _request_rows(rows: pl.DataFrame, table: SourceTable, received_at: datetime) -> pl.DataFrame:
    """The partner columns of ``rows`` as text, with request lineage; other columns dropped."""
    columns = [c for c in PARTNER_COLUMNS[table] if c in rows.columns]
    if rows.height == 0:
        text = pl.DataFrame(schema=dict.fromkeys(PARTNER_COLUMNS[table], pl.String))
    else:
        text = pl.DataFrame([_as_text(rows.get_column(c)) for c in columns])
    return text.with_columns(
        pl.lit(REQUEST_FILE_HASH).alias("_file_hash"),
        pl.lit(REQUEST_SOURCE).alias("_source_file"),
        pl.lit(None, pl.String).alias("_sheet"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row_number"),
        pl.lit(received_at, pl.Datetime("us", "UTC")).alias("_ingested_at"),
    )


def examples_from_partner_rows(
    resultados: pl.DataFrame,
    status: pl.DataFrame,
    falhas: pl.DataFrame,
    *,
    received_at: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(mart_vehicle_features, mart_vehicle_events, quarantined rows) of the vehicles in the rows.

    The three frames hold one or many vehicles' rows of RESULTADOS, STATUS and
    FALHAS with the partner's column names (optional columns may be absent, an
    empty frame stands for "no rows"). ``received_at`` stamps the lineage
    (default: now); it decides nothing unless the same key is sent twice with
    different values, in which case the later row of the request wins, as in
    a file.
    """
    stamp = received_at or datetime.now(UTC)
    given = {
        SourceTable.RESULTADOS: resultados,
        SourceTable.STATUS: status,
        SourceTable.FALHAS: falhas,
    }
    bronze: dict[SourceTable, pl.DataFrame] = {}
    rejected: list[pl.DataFrame] = []
    for table, rows in given.items():
        valid, quarantined = validate_rows(_request_rows(rows, table, stamp), table)
        bronze[table] = valid
        rejected.append(quarantined)
    marts = run_transforms(bronze, engine="polars", tables=_MARTS)
    quarantine = pl.concat(rejected).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]
    return marts[MART_VEHICLE_FEATURES.name], marts[MART_VEHICLE_EVENTS.name], quarantine
