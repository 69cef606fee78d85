"""Validate and normalise partner rows: text cells in, typed bronze rows and quarantine out.

Pure functions over Polars frames. Every input row ends up in exactly one of
the two outputs, so rows read = rows in bronze + rows quarantined, always.

A row is rejected (quarantined with a reason an analyst can act on) when a
value that identifies or types it is missing or unreadable: KNR, DATA, the
RESULTADOS ID/STATUS/VALUE, the STATUS rail code, the FALHAS zone (HALLE).
Values that are malformed but recoverable are normalised and the row carries
a flag in ``_flags`` saying what was done:

- ``trimmed``: surrounding spaces removed from some cell;
- ``upper_cased``: HALLE, FALHA or a rail code written in lower/mixed case;
- ``spaces_collapsed``: runs of spaces inside FALHA reduced to one;
- ``decimal_comma``: VALUE written as ``12,5``;
- ``s_group_junk``: S_GROUP_ID not a known failure group (``-2``, ``#MULTIVALUE``) -> null;
- ``<column>_missing_column`` (``s_group_missing_column`` for S_GROUP_ID): the file
  lacks an optional column, its value is null;
- ``unknown_id_group``: a RESULTADOS ID outside the known groups (1, 2, 718), kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import polars as pl

from roadtest.contracts.partner import (
    BRONZE_SCHEMAS,
    KNR_PATTERN,
    LINEAGE_SCHEMA,
    PARTNER_COLUMNS,
    QUARANTINE_SCHEMA,
    RESULT_ID_GROUPS,
    RESULT_STATUSES,
    S_GROUPS,
    STATUS_CODE_PATTERN,
    SourceTable,
    bronze_schema,
    required_columns,
)

INPUT_LINEAGE: Final = ("_file_hash", "_source_file", "_sheet", "_row_number", "_ingested_at")
"""Lineage columns the caller provides; ``_flags`` is computed here."""

TIMESTAMP_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%d/%m/%Y %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%Y-%m-%d",
    "%d/%m/%Y",
)
"""Text timestamps the exports use; day-first when written with slashes (plant locale)."""

EXCEL_EPOCH: Final = datetime(1899, 12, 30)
EXCEL_SERIAL_RANGE: Final = (18264.0, 73051.0)
"""Excel day numbers accepted as timestamps: 1950-01-01 to 2100-01-01."""

_QUOTED_CHARS: Final = 60
_FLAG_STEMS: Final = {"S_GROUP_ID": "s_group"}
_UPPER_CASED: Final[dict[SourceTable, tuple[str, ...]]] = {
    SourceTable.RESULTADOS: (),
    SourceTable.FALHAS: ("HALLE", "FALHA"),
    SourceTable.STATUS: ("STATUS",),
}
_MAX_EXACT_FLOAT_INT: Final = 2.0**53


def missing_column_flag(column: str) -> str:
    """Flag set on every row of a file that lacks the optional ``column``."""
    return f"{_FLAG_STEMS.get(column, column.lower())}_missing_column"


def _quoted(cell: pl.Expr) -> pl.Expr:
    """A cell value quoted for a reason message, cut so reasons stay readable."""
    return pl.lit("'") + cell.str.slice(0, _QUOTED_CHARS) + pl.lit("'")


def _empty_to_null(cell: pl.Expr) -> pl.Expr:
    return pl.when(cell.str.len_chars() > 0).then(cell)


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """Datetime of a trimmed timestamp cell in any format the exports use, else null."""
    attempts = [
        text.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
        for fmt in TIMESTAMP_FORMATS
    ]
    serial = text.cast(pl.Float64, strict=False)
    low, high = EXCEL_SERIAL_RANGE
    excel = pl.when(serial.is_between(low, high)).then(
        pl.lit(EXCEL_EPOCH) + pl.duration(milliseconds=(serial * 86_400_000).round().cast(pl.Int64))
    )
    return pl.coalesce(*attempts, excel).cast(pl.Datetime("us"))


def parse_integer(text: pl.Expr) -> pl.Expr:
    """Integer of a trimmed cell such as ``13`` or ``13.0`` (Excel numbers), else null."""
    number = text.cast(pl.Float64, strict=False)
    integral = pl.when((number == number.floor()) & (number.abs() < _MAX_EXACT_FLOAT_INT)).then(
        number.cast(pl.Int64, strict=False)
    )
    return pl.coalesce(text.cast(pl.Int64, strict=False), integral)


def parse_number(text: pl.Expr) -> pl.Expr:
    """Finite float of a trimmed cell, accepting a decimal comma (``12,5``), else null.

    Only the first comma becomes a dot, so ``1,234.5`` or ``1,2,3`` stay unreadable
    rather than being guessed.
    """
    number = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    return pl.when(number.is_finite()).then(number)


def _prepare(raw: pl.DataFrame, table: SourceTable) -> pl.DataFrame:
    """Raw cells plus, per partner column, its trimmed text (``__t_<col>``, empty -> null)."""
    missing_required = [c for c in required_columns(table) if c not in raw.columns]
    missing_lineage = [c for c in INPUT_LINEAGE if c not in raw.columns]
    if missing_required or missing_lineage:
        raise ValueError(
            f"Cannot validate {table} rows without columns {missing_required + missing_lineage}."
        )
    absent = [c for c in PARTNER_COLUMNS[table] if c not in raw.columns]
    frame = raw.with_columns(
        *[pl.col(c).cast(pl.String) for c in PARTNER_COLUMNS[table] if c not in absent],
        *[pl.lit(None, pl.String()).alias(c) for c in absent],
    )
    return frame.with_columns(
        [
            _empty_to_null(pl.col(c).str.strip_chars()).alias(f"__t_{c}")
            for c in PARTNER_COLUMNS[table]
        ]
    )


def _text(column: str) -> pl.Expr:
    """Trimmed cell, null when empty."""
    return pl.col(f"__t_{column}")


def _value(column: str) -> pl.Expr:
    """Typed value of a partner column, computed in the first validation stage."""
    return pl.col(f"__v_{column}")


@dataclass(frozen=True)
class TableRules:
    """How one table's cells are typed (stage 1) and judged and flagged (stage 2, on stage 1)."""

    typed: dict[str, pl.Expr]
    reasons: list[pl.Expr]
    flags: list[pl.Expr]


def _common_typed() -> dict[str, pl.Expr]:
    return {"KNR": _text("KNR"), "DATA": parse_timestamp(_text("DATA"))}


def _common_reasons() -> list[pl.Expr]:
    """KNR and DATA checks every table shares."""
    knr, data = _text("KNR"), _text("DATA")
    return [
        pl.when(knr.is_null())
        .then(pl.lit("KNR is empty"))
        .when(~knr.str.contains(KNR_PATTERN.pattern))
        .then(pl.lit("KNR ") + _quoted(knr) + pl.lit(" is not a vehicle id like 2023-2056234")),
        pl.when(data.is_null())
        .then(pl.lit("DATA is empty"))
        .when(_value("DATA").is_null())
        .then(
            pl.lit("DATA ")
            + _quoted(data)
            + pl.lit(" is not a date and time (expected e.g. 2024-01-05 06:12:33)")
        ),
    ]


def _resultados_rules() -> TableRules:
    ident, status, value = _text("ID"), _text("STATUS"), _text("VALUE")
    typed = {
        "NAME": _text("NAME"),
        "ID": parse_integer(ident),
        "STATUS": parse_integer(status),
        "UNIT": _text("UNIT"),
        "VALUE_ID": _text("VALUE_ID"),
        "VALUE": parse_number(value),
    }
    reasons: list[pl.Expr] = [
        pl.when(ident.is_null())
        .then(pl.lit("ID is empty"))
        .when(_value("ID").is_null())
        .then(pl.lit("ID ") + _quoted(ident) + pl.lit(" is not a whole number")),
        pl.when(status.is_null())
        .then(pl.lit("STATUS is empty"))
        .when(~_value("STATUS").is_in(sorted(RESULT_STATUSES)).fill_null(False))
        .then(
            pl.lit("STATUS ") + _quoted(status) + pl.lit(" is not a result status (10 OK, 13 NOK)")
        ),
        pl.when(value.is_not_null() & _value("VALUE").is_null()).then(
            pl.lit("VALUE ") + _quoted(value) + pl.lit(" is not a number")
        ),
    ]
    flags: list[pl.Expr] = [
        pl.when(value.str.contains(",", literal=True) & _value("VALUE").is_not_null()).then(
            pl.lit("decimal_comma")
        ),
        pl.when(~_value("ID").is_in(sorted(RESULT_ID_GROUPS))).then(pl.lit("unknown_id_group")),
    ]
    return TableRules(typed, reasons, flags)


def _falhas_rules() -> TableRules:
    falha = _text("FALHA")
    group = parse_integer(_text("S_GROUP_ID"))
    typed = {
        "MODELO": _text("MODELO"),
        "COR": _text("COR"),
        "MOTOR": _text("MOTOR"),
        "ESTACAO": _text("ESTACAO"),
        "USUARIO": _text("USUARIO"),
        "HALLE": _text("HALLE").str.to_uppercase(),
        "FALHA": falha.str.replace_all(r"\s+", " ").str.to_uppercase(),
        "S_GROUP_ID": pl.when(group.is_in(sorted(S_GROUPS))).then(group),
    }
    reasons: list[pl.Expr] = [
        pl.when(_value("HALLE").is_null()).then(pl.lit("HALLE (zone) is empty"))
    ]
    flags: list[pl.Expr] = [
        pl.when(falha.str.contains(r"\s\s")).then(pl.lit("spaces_collapsed")),
        pl.when(_text("S_GROUP_ID").is_not_null() & _value("S_GROUP_ID").is_null()).then(
            pl.lit("s_group_junk")
        ),
    ]
    return TableRules(typed, reasons, flags)


def _status_rules() -> TableRules:
    code = _value("STATUS")
    reasons: list[pl.Expr] = [
        pl.when(code.is_null())
        .then(pl.lit("STATUS is empty"))
        .when(~code.str.contains(STATUS_CODE_PATTERN.pattern))
        .then(pl.lit("STATUS ") + _quoted(code) + pl.lit(" is not a rail-sensor code like M710")),
    ]
    return TableRules({"STATUS": _text("STATUS").str.to_uppercase()}, reasons, [])


_TABLE_RULES: Final = {
    SourceTable.RESULTADOS: _resultados_rules,
    SourceTable.FALHAS: _falhas_rules,
    SourceTable.STATUS: _status_rules,
}


def _normalisation_flags(table: SourceTable, present: set[str]) -> list[pl.Expr]:
    """Flags of the generic normalisations: trimming, upper-casing, absent optional columns."""
    columns = [c for c in PARTNER_COLUMNS[table] if c in present]
    trimmed = pl.any_horizontal(
        [(pl.col(c).str.len_bytes() != _text(c).str.len_bytes().fill_null(0)) for c in columns]
    ).fill_null(False)
    upper = [c for c in _UPPER_CASED[table] if c in present]
    upper_cased = pl.any_horizontal(
        [(_text(c) != _text(c).str.to_uppercase()).fill_null(False) for c in upper]
        or [pl.lit(False)]
    )
    return [
        pl.when(trimmed).then(pl.lit("trimmed")),
        pl.when(upper_cased).then(pl.lit("upper_cased")),
    ]


def validate_rows(raw: pl.DataFrame, table: SourceTable) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split text rows of ``table`` into typed bronze rows and quarantined rows.

    ``raw`` holds the partner columns found in the file (text; optional ones may
    be absent) and the lineage columns ``_file_hash``, ``_source_file``,
    ``_sheet``, ``_row_number``, ``_ingested_at``. Returns (bronze, quarantine)
    with ``contracts.partner.bronze_schema(table)`` and ``QUARANTINE_SCHEMA``.
    """
    present = {c for c in PARTNER_COLUMNS[table] if c in raw.columns}
    rules = _TABLE_RULES[table]()
    typed = {**_common_typed(), **rules.typed}
    missing = [pl.lit(missing_column_flag(c)) for c in PARTNER_COLUMNS[table] if c not in present]
    flags = [*_normalisation_flags(table, present), *rules.flags, *missing]
    checked = (
        _prepare(raw, table)
        .lazy()
        .with_columns([expr.alias(f"__v_{name}") for name, expr in typed.items()])
        .with_columns(
            pl.concat_str([*_common_reasons(), *rules.reasons], separator="; ", ignore_nulls=True)
            .fill_null("")
            .alias("__reason"),
            pl.concat_str(flags, separator=",", ignore_nulls=True).fill_null("").alias("_flags"),
        )
        .collect()
    )
    rejected = pl.col("__reason") != ""
    bronze = checked.filter(~rejected).select(
        *[_value(name).cast(dtype).alias(name) for name, dtype in BRONZE_SCHEMAS[table].items()],
        *_lineage(),
    )
    raw_json = pl.struct([pl.col(c) for c in PARTNER_COLUMNS[table] if c in present])
    quarantine = checked.filter(rejected).select(
        pl.lit(table.value).alias("table"),
        pl.col("__reason").alias("reason"),
        raw_json.struct.json_encode().alias("raw"),
        *_lineage(),
    )
    return _cast(bronze, bronze_schema(table)), _cast(quarantine, QUARANTINE_SCHEMA)


def _lineage() -> list[pl.Expr]:
    return [pl.col(name).cast(dtype) for name, dtype in LINEAGE_SCHEMA.items()]


def _cast(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
