"""Cleaning of the bronze tables: trimmed keys, one row per natural key, snake_case.

Bronze keeps every source row, so the same measurement can appear several
times: exact duplicates inside an export, the same row in two overlapping
exports, and re-sent files that correct values. All three collapse to one row
per natural key; the row of the most recently ingested file wins
(``_ingested_at``, then ``_file_hash`` so that two files ingested in the same
instant still give one answer, then the later row of the file).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import narwhals as nw

from roadtest.contracts.partner import BRONZE_SCHEMAS, LINEAGE_SCHEMA, SourceTable
from roadtest.etl.exprs import epoch_us

RECENCY: Final = ("_ingested_at", "_file_hash", "_row_number")
"""Order that makes the last row of a natural key the one to keep."""

ROWS_PER_FILE: Final = 10_000_000_000
"""Bound on a file's row count, to fold (file rank, row number) into one integer."""

RESULT_KEY: Final = ("knr", "name", "value_id", "data")
DEFECT_KEY: Final = ("knr", "halle", "falha", "data")
PASSAGE_KEY: Final = ("knr", "status_code", "data")


class BronzeInputError(ValueError):
    """A bronze frame handed to the transforms lacks columns the contract requires."""


def check_bronze(bronze: Mapping[SourceTable, nw.LazyFrame]) -> None:
    """Refuse inputs that are not the three bronze tables, saying what is missing."""
    missing_tables = [t.value for t in SourceTable if t not in bronze]
    if missing_tables:
        raise BronzeInputError(
            f"The transforms need all three bronze tables; missing: {', '.join(missing_tables)}."
        )
    for table in SourceTable:
        names = set(bronze[table].collect_schema().names())
        wanted = [*BRONZE_SCHEMAS[table], *LINEAGE_SCHEMA]
        absent = [c for c in wanted if c not in names]
        if absent:
            raise BronzeInputError(
                f"Bronze table {table.value} lacks the column(s) {', '.join(absent)}; "
                "read it with the lake so that it has the bronze schema."
            )


def _trimmed(column: str) -> nw.Expr:
    return nw.col(column).str.strip_chars()


def _upper(column: str) -> nw.Expr:
    return _trimmed(column).str.to_uppercase()


def _lineage() -> list[nw.Expr]:
    return [
        nw.col("_file_hash").alias("source_file_hash"),
        nw.col("_row_number").cast(nw.Int64).alias("source_row_number"),
    ]


def _keep_latest(frame: nw.LazyFrame, key: tuple[str, ...]) -> nw.LazyFrame:
    """One row per ``key``: the last by RECENCY.

    Files are ranked once (a small table), so the recency of a row is a single
    integer and one windowed max per key finds the row to keep; this is several
    times faster than a multi-column ``unique(keep="last")`` on Polars.
    """
    files = (
        frame.select("_ingested_at", "_file_hash")
        .unique()
        .with_columns(
            _file_rank=nw.col("_file_hash")
            .cum_count()
            .over(order_by=["_ingested_at", "_file_hash"])
            .cast(nw.Int64)
        )
    )
    return (
        frame.join(files, on=["_ingested_at", "_file_hash"], how="left")
        .with_columns(_recency=nw.col("_file_rank") * ROWS_PER_FILE + nw.col("_row_number"))
        .with_columns(_latest=nw.col("_recency").max().over(*key))
        .filter(nw.col("_recency") == nw.col("_latest"))
        .drop(*RECENCY, "_file_rank", "_recency", "_latest")
    )


def clean_results(bronze: nw.LazyFrame) -> nw.LazyFrame:
    """RESULTADOS → one row per (knr, name, value_id, data), with epoch ``ts``."""
    return _keep_latest(
        bronze.select(
            _trimmed("KNR").alias("knr"),
            _trimmed("NAME").alias("name"),
            nw.coalesce(_trimmed("VALUE_ID"), nw.lit("")).alias("value_id"),
            nw.col("DATA").alias("data"),
            nw.col("ID").cast(nw.Int64).alias("id_group"),
            nw.col("STATUS").cast(nw.Int64).alias("status"),
            nw.col("VALUE").cast(nw.Float64).alias("value"),
            _trimmed("UNIT").alias("unit"),
            *_lineage(),
            *(nw.col(c) for c in RECENCY),
        ),
        RESULT_KEY,
    ).with_columns(
        unit=nw.when(nw.col("unit") == "").then(None).otherwise(nw.col("unit")),
        ts=epoch_us("data"),
    )


def clean_defects(bronze: nw.LazyFrame) -> nw.LazyFrame:
    """FALHAS → one row per (knr, halle, falha, data), with epoch ``ts``."""
    return _keep_latest(
        bronze.select(
            _trimmed("KNR").alias("knr"),
            _upper("HALLE").alias("halle"),
            _trimmed("FALHA").alias("falha"),
            nw.col("DATA").alias("data"),
            _trimmed("MODELO").alias("modelo"),
            _trimmed("COR").alias("cor"),
            _trimmed("MOTOR").alias("motor"),
            _trimmed("ESTACAO").alias("estacao"),
            _trimmed("USUARIO").alias("usuario"),
            nw.col("S_GROUP_ID").cast(nw.Int64).alias("s_group_id"),
            *_lineage(),
            *(nw.col(c) for c in RECENCY),
        ),
        DEFECT_KEY,
    ).with_columns(ts=epoch_us("data"))


def clean_passages(bronze: nw.LazyFrame) -> nw.LazyFrame:
    """STATUS → one row per (knr, status_code, data), with epoch ``ts``."""
    return _keep_latest(
        bronze.select(
            _trimmed("KNR").alias("knr"),
            _upper("STATUS").alias("status_code"),
            nw.col("DATA").alias("data"),
            *_lineage(),
            *(nw.col(c) for c in RECENCY),
        ),
        PASSAGE_KEY,
    ).with_columns(ts=epoch_us("data"))
