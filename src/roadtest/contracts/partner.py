"""The partner's three exports, as delivered and as typed in the lake's bronze layer.

Column names are the partner's (Portuguese/German plant vocabulary) and stay so
up to bronze, so that a row in the lake can be traced to a cell of a received
file. See ``docs/data.md`` for the meaning of every column and code.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

import polars as pl


class SourceTable(StrEnum):
    """The three partner exports."""

    RESULTADOS = "RESULTADOS"
    FALHAS = "FALHAS"
    STATUS = "STATUS"


PARTNER_COLUMNS: Final[dict[SourceTable, tuple[str, ...]]] = {
    SourceTable.RESULTADOS: ("KNR", "NAME", "ID", "STATUS", "UNIT", "VALUE_ID", "VALUE", "DATA"),
    SourceTable.FALHAS: (
        "KNR",
        "MODELO",
        "COR",
        "MOTOR",
        "ESTACAO",
        "USUARIO",
        "HALLE",
        "FALHA",
        "S_GROUP_ID",
        "DATA",
    ),
    SourceTable.STATUS: ("KNR", "STATUS", "DATA"),
}
"""Every column of each export, in the partner's order."""

OPTIONAL_COLUMNS: Final[dict[SourceTable, frozenset[str]]] = {
    SourceTable.RESULTADOS: frozenset({"UNIT", "VALUE_ID"}),
    SourceTable.FALHAS: frozenset({"S_GROUP_ID", "USUARIO", "ESTACAO"}),
    SourceTable.STATUS: frozenset(),
}
"""Columns some exports lack; a file without them is still read (the value is null)."""


def required_columns(table: SourceTable) -> tuple[str, ...]:
    """Columns a file must have to be recognised as ``table``."""
    return tuple(c for c in PARTNER_COLUMNS[table] if c not in OPTIONAL_COLUMNS[table])


# --- codes -----------------------------------------------------------------

RESULT_STATUS_OK: Final = 10
RESULT_STATUS_NOK: Final = 13
RESULT_STATUSES: Final = frozenset({RESULT_STATUS_OK, RESULT_STATUS_NOK})

RESULT_ID_GROUPS: Final[dict[int, str]] = {
    1: "machines",  # fluid fills, brake adjustment, pedal test
    2: "bolting",  # torque / angle
    718: "electrical",  # electrical / electronic tests
}

UNITS: Final = frozenset({"Nm", "Deg", "Grad", "mm", "%", "V", "kg", "min", "Clicks"})

POST_ROAD_TEST_NAME_PREFIX: Final = "SECTION_ZP8"
"""RESULTADOS NAMEs recorded after the road test: never a feature."""

ROAD_TEST_HALLE: Final = "ROD"
PRE_ROAD_TEST_HALLES: Final = ("ZP5", "ZP5A", "ZP6", "ZP61", "ZP62", "CAB", "ZP7")
POST_ROAD_TEST_HALLES: Final = frozenset({"ROD", "AGUA", "ZP8", "ZP82", "ZP8R"})
"""Defects found in these zones are known only at or after the road test."""

ZONE_CHAIN: Final[tuple[tuple[str, str], ...]] = (
    ("R750", "ZP5"),
    ("L540", "ZP5A"),
    ("G700", "ZP61"),
    ("M600", "ZP6"),
    ("M620", "CAB"),
    ("M700", "ZP7"),
    ("M710", "ROD"),
    ("M720", "AGUA"),
    ("M800", "ZP8"),
)
"""Main rail-sensor codes in line order and the zone each one marks the entry of."""

ROAD_TEST_START_STATUS: Final = "M710"
"""The STATUS passage that starts the road test; it and everything after are post-road-test."""

STATUS_CODE_PATTERN: Final = re.compile(r"^[A-Z][0-9]{3}$")
"""Rail-sensor codes: one letter and three digits (over a hundred exist)."""

S_GROUPS: Final[dict[int, str]] = {
    1: "rear",
    2: "central",
    4: "doors",
    5: "front",
    133: "general",
    137: "external underbody",
    140: "documentation",
    9830945: "back-office test",
    9830946: "electrical",
}
"""Failure groups (S_GROUP_ID); any other value is junk and normalised to null."""

ENGINES: Final = ("DHS", "CWL", "CWS", "DRP", "DSN")

KNR_PATTERN: Final = re.compile(r"^[0-9]{4}-[0-9]{7}$")
"""A vehicle id: production year, dash, seven digits (e.g. ``2023-2056234``)."""


# --- bronze (typed) schemas --------------------------------------------------

LINEAGE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "_file_hash": pl.String(),  # sha256 of the raw file, its name in lake/raw
    "_source_file": pl.String(),  # the file name as received
    "_sheet": pl.String(),  # sheet name for xlsx, null otherwise
    "_row_number": pl.Int64(),  # 1-based line/row of the source sheet or file, header excluded
    "_ingested_at": pl.Datetime("us", "UTC"),
    "_flags": pl.String(),  # comma-separated normalisations applied to the row, "" if none
}
"""Columns every bronze row carries so it can be traced to the cell it came from."""

BRONZE_SCHEMAS: Final[dict[SourceTable, dict[str, pl.DataType]]] = {
    SourceTable.RESULTADOS: {
        "KNR": pl.String(),
        "NAME": pl.String(),  # text, leading zeros kept
        "ID": pl.Int64(),
        "STATUS": pl.Int64(),  # 10 OK / 13 NOK
        "UNIT": pl.String(),  # null when empty
        "VALUE_ID": pl.String(),
        "VALUE": pl.Float64(),  # null when the cell is empty
        "DATA": pl.Datetime("us"),  # plant local time, naive
    },
    SourceTable.FALHAS: {
        "KNR": pl.String(),
        "MODELO": pl.String(),
        "COR": pl.String(),
        "MOTOR": pl.String(),
        "ESTACAO": pl.String(),
        "USUARIO": pl.String(),
        "HALLE": pl.String(),  # trimmed, upper case
        "FALHA": pl.String(),  # trimmed, upper case, inner spaces collapsed
        "S_GROUP_ID": pl.Int64(),  # null when missing or junk
        "DATA": pl.Datetime("us"),
    },
    SourceTable.STATUS: {
        "KNR": pl.String(),
        "STATUS": pl.String(),  # rail-sensor code, trimmed, upper case
        "DATA": pl.Datetime("us"),
    },
}
"""Typed partner columns of each bronze table (lineage columns come after them)."""


FALHA_SEPARATOR: Final = r"\.\s"
"""A FALHA reads ``PART NN. DEFECT`` (``PARALAMA DIANTEIRO 01. AMASSADO``): the part, then
the defect type after the last '. '; a text without '. ' has no type."""
FALHA_DEFECT_HEAD: Final = r"^.*\.\s+"
"""Everything of a FALHA up to and including its last '. ' (greedy): removed, the type is left."""


def bronze_schema(table: SourceTable) -> pl.Schema:
    """The full bronze schema of ``table``: partner columns then lineage columns."""
    return pl.Schema({**BRONZE_SCHEMAS[table], **LINEAGE_SCHEMA})


QUARANTINE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "table": pl.String(),  # RESULTADOS / FALHAS / STATUS
    "reason": pl.String(),  # why the row was rejected, for a plant analyst
    "raw": pl.String(),  # the row's raw cell values as a JSON object, column -> text
    **LINEAGE_SCHEMA,
}
"""One row per rejected source row, with its raw values and the reason."""
