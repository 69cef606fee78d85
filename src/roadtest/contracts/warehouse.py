"""The warehouse tables the ETL transforms produce: columns, types, keys, meaning.

This module is the single source of the warehouse schema: the DDL (DuckDB and
PostgreSQL) is generated from it, the transforms cast their output to it, and
the data dictionary ``docs/warehouse.md`` is generated from the descriptions.
Column names are snake_case; the partner's names stop at bronze.

Conventions shared by every table:

* timestamps are naive ``Datetime("us")`` in plant local time, as in the exports;
* a missing partner value that would be part of a primary key is stored as the
  empty string (``value_id``), because PostgreSQL primary keys cannot be null;
* "known before the road test" means the row may feed features: its ``DATA`` is
  strictly before the vehicle's road-test start (any time, for a vehicle that has
  not reached it), and it is not of a kind recorded only at or after the road
  test (``HALLE`` in ROD/AGUA/ZP8/ZP82/ZP8R, a ``SECTION_ZP8`` result, a STATUS
  passage at ``M710`` or later in the main chain).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Final

import polars as pl

from roadtest.contracts.partner import (
    PRE_ROAD_TEST_HALLES,
    RESULT_ID_GROUPS,
    ROAD_TEST_START_STATUS,
    S_GROUPS,
    ZONE_CHAIN,
)


@dataclass(frozen=True)
class Column:
    """One warehouse column; ``description`` is its entry in the data dictionary."""

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = True


@dataclass(frozen=True)
class TableSpec:
    """One warehouse table.

    ``vehicle_scoped`` tables have a ``knr`` column: all rows of a vehicle are
    replaced together whenever that vehicle is recomputed. The others are
    dimensions keyed by ``primary_key`` and upserted.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    vehicle_scoped: bool

    def schema(self) -> pl.Schema:
        """The polars schema of the table, columns in order (a fresh copy: callers may edit it)."""
        return pl.Schema(self._checked_schema, check_dtypes=False)

    @cached_property
    def _checked_schema(self) -> pl.Schema:
        """The schema with its types checked once: checking costs a request's worth of time
        when the serving path asks for it per column."""
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)


def slug(text: str) -> str:
    """A lower-case snake_case identifier for a group or zone name (used in column names)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _col(name: str, dtype: pl.DataType, description: str, *, nullable: bool = True) -> Column:
    return Column(name=name, dtype=dtype, description=description, nullable=nullable)


def _key(name: str, dtype: pl.DataType, description: str) -> Column:
    return _col(name, dtype, description, nullable=False)


_STR = pl.String()
_I64 = pl.Int64()
_I32 = pl.Int32()
_F64 = pl.Float64()
_BOOL = pl.Boolean()
_TS = pl.Datetime("us")
_DATE = pl.Date()

KNR = _key("knr", _STR, "Vehicle id (KNR), e.g. 2023-2056234.")

UNKNOWN_GROUP: Final = "unknown"
"""Failure-group name of a defect whose S_GROUP_ID is missing or junk."""

FEATURE_ID_GROUPS: Final[tuple[tuple[int, str], ...]] = tuple(RESULT_ID_GROUPS.items())
"""Result groups (ID) that get their own feature columns, as (ID, name)."""

FEATURE_S_GROUPS: Final[tuple[tuple[int | None, str], ...]] = (
    *((gid, slug(name)) for gid, name in S_GROUPS.items()),
    (None, UNKNOWN_GROUP),
)
"""Failure groups that get their own defect-count feature, as (S_GROUP_ID, slug)."""

FEATURE_DEFECT_ZONES: Final[tuple[str, ...]] = PRE_ROAD_TEST_HALLES
"""Pre-road-test HALLEs that get their own defect-count feature."""

PRE_ROAD_TEST_CHAIN: Final[tuple[tuple[str, str], ...]] = ZONE_CHAIN[
    : [code for code, _ in ZONE_CHAIN].index(ROAD_TEST_START_STATUS)
]
"""Main-chain (status code, zone) pairs before the road test (R750 … M700)."""

DWELL_ZONES: Final[tuple[tuple[str, str, str], ...]] = tuple(
    (zone, code, nxt) for (code, zone), (nxt, _) in itertools.pairwise(PRE_ROAD_TEST_CHAIN)
)
"""(zone, entry code, next-zone entry code) for each zone whose dwell is a feature.

ZP7's dwell ends with the M710 passage, the road-test start itself, so it is not
a feature (it is unknown when an unlabelled vehicle is scored)."""


# --- dimensions ---------------------------------------------------------------

DIM_VEHICLE = TableSpec(
    name="dim_vehicle",
    description=(
        "One row per vehicle seen in any export: configuration, when it entered the line "
        "and whether it has reached the road test."
    ),
    columns=(
        KNR,
        _col(
            "modelo",
            _STR,
            "Vehicle model (FALHAS.MODELO); null if the vehicle has no defect row. "
            "Constant per vehicle; if exports disagree, the alphabetically first value.",
        ),
        _col("cor", _STR, "Paint colour code (FALHAS.COR), same rule as modelo."),
        _col("motor", _STR, "Engine code (FALHAS.MOTOR), same rule as modelo."),
        _key("first_seen_at", _TS, "Earliest DATA of any row of the vehicle in any export."),
        _key("last_seen_at", _TS, "Latest DATA of any row of the vehicle in any export."),
        _col("line_entry_at", _TS, "First R750 (ZP5 entry) passage; null if not recorded."),
        _col(
            "road_test_start_at",
            _TS,
            "Road-test start: earliest of the first M710 passage and the first ROD defect; "
            "null while the vehicle has not reached the road test.",
        ),
        _key("reached_road_test", _BOOL, "The vehicle has an M710 passage or a ROD defect."),
        _key(
            "labelled",
            _BOOL,
            "The vehicle has a row in vehicle_label (equal to reached_road_test: the outcome "
            "counts as final once the road test has started).",
        ),
        _key(
            "has_complete_chain",
            _BOOL,
            "Every main-chain passage before the road test (R750 … M700) is recorded.",
        ),
        _key("n_results", _I64, "RESULTADOS rows of the vehicle after cleaning."),
        _key("n_passages", _I64, "STATUS rows of the vehicle after cleaning."),
        _key("n_defects", _I64, "FALHAS rows of the vehicle after cleaning (all zones)."),
    ),
    primary_key=("knr",),
    vehicle_scoped=True,
)

DIM_TEST = TableSpec(
    name="dim_test",
    description=(
        "One row per test program and sub-result (NAME, VALUE_ID), with the derived spec "
        "window. The exports carry no spec limits; every OK result is within spec, so the "
        "observed range of OK values [ok_min, ok_max] is the tightest window the data proves "
        "to lie inside the spec. It is derived from results known before the road test only."
    ),
    columns=(
        _key("name", _STR, "Test program / result id (RESULTADOS.NAME), leading zeros kept."),
        _key("value_id", _STR, "Sub-result inside the program (VALUE_ID); '' when not exported."),
        _col(
            "id_group",
            _I64,
            "Result group (RESULTADOS.ID): 1 machines, 2 bolting, "
            "718 electrical. The largest ID seen if exports disagree.",
        ),
        _key("id_group_name", _STR, "Name of the result group, 'unknown' for other IDs."),
        _col("unit", _STR, "Unit of VALUE (Nm, Deg, mm, ...); the largest seen, null if none."),
        _key(
            "post_road_test", _BOOL, "NAME starts with SECTION_ZP8: recorded after the road test."
        ),
        _col(
            "ok_min",
            _F64,
            "Smallest OK (STATUS 10) value known before the road test: lower "
            "edge of the derived spec window. Null if no such value.",
        ),
        _col(
            "ok_max",
            _F64,
            "Largest OK value known before the road test: upper edge of the derived spec window.",
        ),
        _key(
            "n_ok", _I64, "OK results with a value, known before the road test, behind the window."
        ),
    ),
    primary_key=("name", "value_id"),
    vehicle_scoped=False,
)

DIM_ZONE = TableSpec(
    name="dim_zone",
    description=(
        "One row per rail-sensor status code: the main chain (R750 … M800) with its zones and "
        "line order, plus every other code seen in STATUS (zone and order null)."
    ),
    columns=(
        _key("status_code", _STR, "Rail-sensor code (STATUS.STATUS), e.g. M600."),
        _col("zone", _STR, "Zone whose entry the code marks (ZP5 … ZP8); null off the main chain."),
        _col("line_order", _I32, "1-based position in the main chain; null off the main chain."),
        _key("in_main_chain", _BOOL, "The code is one of the main chain's."),
        _key("after_road_test", _BOOL, "Main-chain code at or after M710 (road-test start)."),
    ),
    primary_key=("status_code",),
    vehicle_scoped=False,
)

DIM_DATE = TableSpec(
    name="dim_date",
    description="One row per calendar day that occurs in any export's DATA.",
    columns=(
        _key("date", _DATE, "Calendar day (plant local time)."),
        _key("year", _I32, "Year."),
        _key("quarter", _I32, "Quarter 1–4."),
        _key("month", _I32, "Month 1–12."),
        _key("week", _I32, "ISO week number 1–53."),
        _key("weekday", _I32, "ISO weekday, 1 = Monday … 7 = Sunday."),
    ),
    primary_key=("date",),
    vehicle_scoped=False,
)


# --- facts -------------------------------------------------------------------

FACT_TEST_RESULT = TableSpec(
    name="fact_test_result",
    description=(
        "One row per measured value after cleaning: exact duplicates and rows repeated "
        "across exports removed, re-sent corrections resolved (same KNR, NAME, VALUE_ID, "
        "DATA: the row of the most recently ingested file wins)."
    ),
    columns=(
        KNR,
        _key("name", _STR, "Test program / result id (NAME)."),
        _key("value_id", _STR, "Sub-result (VALUE_ID); '' when not exported."),
        _key("data", _TS, "Result timestamp (DATA)."),
        _key("id_group", _I64, "Result group (ID)."),
        _key("status", _I64, "10 OK, 13 NOK."),
        _key("is_nok", _BOOL, "status = 13."),
        _col("value", _F64, "Measured value; null when the cell was empty."),
        _col("unit", _STR, "Unit of value; null when empty."),
        _key(
            "is_rework",
            _BOOL,
            "A retest: the same NAME/VALUE_ID was already measured for this vehicle at an "
            "earlier DATA.",
        ),
        _key(
            "rework_after_zone_exit",
            _BOOL,
            "A retest made after the vehicle had entered a later main-chain zone than the one "
            "it was in at the first measurement (repaired off the station).",
        ),
        _col(
            "zone_at_result",
            _STR,
            "Main-chain zone the vehicle was in at DATA: the zone of the latest first-passage "
            "of a main-chain code at or before DATA; null before the first recorded passage.",
        ),
        _key(
            "known_before_road_test",
            _BOOL,
            "DATA before the road-test start (or none yet) and NAME not SECTION_ZP8*.",
        ),
        _key("source_file_hash", _STR, "sha256 of the raw file the kept row came from."),
        _key("source_row_number", _I64, "1-based row of the kept row in that file/sheet."),
    ),
    primary_key=("knr", "name", "value_id", "data"),
    vehicle_scoped=True,
)

FACT_ZONE_PASSAGE = TableSpec(
    name="fact_zone_passage",
    description=(
        "One row per rail-sensor passage after cleaning (exact duplicates removed). Gaps are "
        "measured along the main chain's line order, which is how negative gaps show up."
    ),
    columns=(
        KNR,
        _key("status_code", _STR, "Rail-sensor code (STATUS)."),
        _key("data", _TS, "Passage timestamp (DATA)."),
        _col("zone", _STR, "Zone the code marks the entry of; null off the main chain."),
        _col("line_order", _I32, "Position in the main chain; null off the main chain."),
        _col(
            "gap_seconds",
            _F64,
            "Main-chain codes: seconds since the vehicle's first passage at the nearest "
            "preceding main-chain code it has (signed: negative when clocks or sensors "
            "disagree). Null for R750, off-chain codes and when no preceding code exists.",
        ),
        _key("is_negative_gap", _BOOL, "gap_seconds < 0; such gaps are nulled in the features."),
        _key(
            "is_missing_previous",
            _BOOL,
            "Main-chain code whose immediately preceding main-chain code has no passage for "
            "this vehicle (an incomplete chain).",
        ),
        _key(
            "known_before_road_test",
            _BOOL,
            "DATA before the road-test start (or none yet) and not a main-chain code at or "
            "after M710.",
        ),
        _key("source_file_hash", _STR, "sha256 of the raw file the kept row came from."),
        _key("source_row_number", _I64, "1-based row of the kept row in that file/sheet."),
    ),
    primary_key=("knr", "status_code", "data"),
    vehicle_scoped=True,
)

FACT_DEFECT = TableSpec(
    name="fact_defect",
    description=(
        "One row per defect logged by an inspector after cleaning (exact duplicates removed, "
        "re-sent corrections resolved on KNR, HALLE, FALHA, DATA: most recently ingested file "
        "wins)."
    ),
    columns=(
        KNR,
        _key("halle", _STR, "Zone where the defect was found (HALLE), trimmed, upper case."),
        _key("falha", _STR, "Defect text as logged (FALHA), 'PART. DEFECT'."),
        _key("data", _TS, "Defect timestamp (DATA)."),
        _col(
            "zone",
            _STR,
            "Main-chain zone HALLE belongs to (ZP62 → ZP6, ZP82/ZP8R → ZP8); "
            "null for a HALLE outside the chain.",
        ),
        _key("part", _STR, "FALHA before its last '. ' (the whole text if there is none)."),
        _col("defect_type", _STR, "FALHA after its last '. '; null when the text has no '. '."),
        _col("s_group_id", _I64, "Failure group (S_GROUP_ID); null when missing or junk."),
        _key("s_group", _STR, "Failure group name, 'unknown' when s_group_id is null."),
        _col("estacao", _STR, "Inspection station (ESTACAO)."),
        _col("usuario", _STR, "Inspector id (USUARIO)."),
        _key("is_road_test_defect", _BOOL, "HALLE = ROD: this row makes the vehicle fail."),
        _key(
            "before_road_test",
            _BOOL,
            "DATA before the road-test start (or none yet) and HALLE not in "
            "ROD/AGUA/ZP8/ZP82/ZP8R: may feed features.",
        ),
        _key("source_file_hash", _STR, "sha256 of the raw file the kept row came from."),
        _key("source_row_number", _I64, "1-based row of the kept row in that file/sheet."),
    ),
    primary_key=("knr", "halle", "falha", "data"),
    vehicle_scoped=True,
)


# --- label ---------------------------------------------------------------------

VEHICLE_LABEL = TableSpec(
    name="vehicle_label",
    description=(
        "The target, one row per vehicle that has reached the road test (an M710 passage or "
        "a ROD defect). Vehicles that have not reached it have no row: they are unlabelled "
        "and are what the model scores."
    ),
    columns=(
        KNR,
        _key("road_test_failed", _BOOL, "The vehicle has at least one ROD defect."),
        _key(
            "failure_groups",
            _STR,
            "Comma-separated S_GROUP_IDs of its ROD defects, ascending, e.g. '4,9830946'; "
            "'' when it passed or when every ROD defect has an unknown group.",
        ),
        *(
            _key(f"fails_{slug(name)}", _BOOL, f"A ROD defect of group {gid} ({name}).")
            for gid, name in S_GROUPS.items()
        ),
        _key("fails_unknown", _BOOL, "A ROD defect whose group is missing or junk."),
        _key("n_rod_defects", _I64, "Number of ROD defects."),
        _key("road_test_start_at", _TS, "Road-test start (see dim_vehicle)."),
        _key(
            "labelled_at",
            _TS,
            "When the label as stored became known: the latest ROD defect DATA for a failed "
            "vehicle, the road-test start for a passed one.",
        ),
    ),
    primary_key=("knr",),
    vehicle_scoped=True,
)


# --- marts ---------------------------------------------------------------------


def _result_group_columns() -> tuple[Column, ...]:
    cols: list[Column] = []
    for gid, name in FEATURE_ID_GROUPS:
        cols += [
            _key(f"n_results_{name}", _I64, f"Results of group {gid} ({name})."),
            _key(f"n_nok_{name}", _I64, f"NOK results of group {gid} ({name})."),
            _col(f"nok_rate_{name}", _F64, f"n_nok_{name} / n_results_{name}; null if none."),
            _key(f"n_rework_{name}", _I64, f"Retests of group {gid} ({name})."),
            _col(f"rework_rate_{name}", _F64, f"n_rework_{name} / n_results_{name}."),
            _col(
                f"min_margin_{name}",
                _F64,
                f"Smallest relative margin of an OK result of group {gid} ({name}) to its "
                "derived spec window: min(value - ok_min, ok_max - value) / (ok_max - ok_min), "
                "in [0, 0.5]; null if no OK result with a window of positive width.",
            ),
        ]
    return tuple(cols)


def _zone_columns() -> tuple[Column, ...]:
    return tuple(
        _col(
            f"dwell_{slug(zone)}_s",
            _F64,
            f"Seconds from the first {code} passage (entry to {zone}) to the first {nxt} "
            "passage; null if either is missing or the gap is negative.",
        )
        for zone, code, nxt in DWELL_ZONES
    )


def _defect_columns() -> tuple[Column, ...]:
    by_group = tuple(
        _key(
            f"n_defects_grp_{name}",
            _I64,
            f"Defects before the road test of failure group {gid if gid is not None else '?'} "
            f"({name}).",
        )
        for gid, name in FEATURE_S_GROUPS
    )
    by_zone = tuple(
        _key(f"n_defects_zone_{slug(zone)}", _I64, f"Defects before the road test found in {zone}.")
        for zone in FEATURE_DEFECT_ZONES
    )
    return by_group + by_zone


MART_VEHICLE_FEATURES = TableSpec(
    name="mart_vehicle_features",
    description=(
        "One row per vehicle with any data known before its road test: the tabular features. "
        "Built only from rows flagged known_before_road_test / before_road_test, so nothing "
        "recorded at or after the road-test start can change it."
    ),
    columns=(
        KNR,
        _key(
            "as_of",
            _TS,
            "The time the features describe: the road-test start for a vehicle that reached "
            "it, else the latest DATA of its pre-road-test rows.",
        ),
        _key("labelled", _BOOL, "The vehicle has a vehicle_label row (it reached the road test)."),
        _col("modelo", _STR, "Model, from its pre-road-test defect rows; null if it has none."),
        _col("cor", _STR, "Paint colour, same rule as modelo."),
        _col("motor", _STR, "Engine, same rule as modelo."),
        _key("span_s", _F64, "Seconds from its first pre-road-test row to as_of."),
        _key("n_results", _I64, "Results before the road test."),
        _key("n_nok", _I64, "NOK results before the road test."),
        _col("nok_rate", _F64, "n_nok / n_results; null if no result."),
        _key("n_rework", _I64, "Retests before the road test."),
        _col("rework_rate", _F64, "n_rework / n_results; null if no result."),
        _key("n_rework_after_zone_exit", _I64, "Retests made after leaving the first zone."),
        _key("n_programs", _I64, "Distinct NAMEs measured."),
        _key("n_nok_programs", _I64, "Distinct NAMEs with at least one NOK."),
        _key("max_nok_in_program", _I64, "Largest number of NOK results in one NAME (0 if none)."),
        *_result_group_columns(),
        _col("min_margin", _F64, "Smallest relative margin of any OK result (see min_margin_*)."),
        _key("n_passages", _I64, "STATUS passages before the road test."),
        _key("n_chain_zones", _I64, "Distinct main-chain codes R750 … M700 passed."),
        _key("has_complete_chain", _BOOL, "All of R750 … M700 passed before the road test."),
        _key(
            "n_negative_gaps",
            _I64,
            "Main-chain codes R750 … M700 whose first passage precedes the first passage at "
            "the nearest earlier code the vehicle has (a negative gap).",
        ),
        *_zone_columns(),
        _col(
            "line_time_s",
            _F64,
            "Seconds from the first R750 to the first M700 passage; null if either is "
            "missing or negative.",
        ),
        _key("n_defects", _I64, "Defects before the road test."),
        _key("n_defect_types", _I64, "Distinct defect_type values among them."),
        *_defect_columns(),
    ),
    primary_key=("knr",),
    vehicle_scoped=True,
)

EVENT_TYPES: Final = ("zone", "result", "defect")
"""mart_vehicle_events.event_type values, in their tie-break order at equal DATA."""

MART_VEHICLE_EVENTS = TableSpec(
    name="mart_vehicle_events",
    description=(
        "The ordered event sequence of each vehicle before its road test (zone passages, "
        "results, defects), for the recurrent models. Order: DATA, then event type "
        "(zone, result, defect), then code, then detail; the order is total because the "
        "cleaned facts are unique on those keys."
    ),
    columns=(
        KNR,
        _key("seq", _I64, "0-based position in the vehicle's sequence."),
        _key("data", _TS, "Event timestamp (DATA)."),
        _key("event_type", _STR, "'zone', 'result' or 'defect'."),
        _key(
            "code",
            _STR,
            "zone: status code; result: NAME; defect: '<s_group>@<halle>' e.g. 'doors@ZP6'.",
        ),
        _key("detail", _STR, "result: VALUE_ID; defect: FALHA; zone: ''."),
        _col("id_group", _I64, "result: ID; defect: S_GROUP_ID (null if unknown); zone: null."),
        _col("status", _I64, "result: STATUS; otherwise null."),
        _col("value", _F64, "result: VALUE; otherwise null."),
        _key("is_nok", _BOOL, "result: NOK; otherwise false."),
        _key("is_rework", _BOOL, "result: a retest; otherwise false."),
        _key("t_offset_seconds", _F64, "Seconds since the vehicle's first event (line entry)."),
        _key("dt_prev_seconds", _F64, "Seconds since the previous event; 0 for the first."),
    ),
    primary_key=("knr", "seq"),
    vehicle_scoped=True,
)


TRANSFORM_TABLES: Final[tuple[TableSpec, ...]] = (
    DIM_ZONE,
    DIM_DATE,
    DIM_TEST,
    DIM_VEHICLE,
    FACT_ZONE_PASSAGE,
    FACT_TEST_RESULT,
    FACT_DEFECT,
    VEHICLE_LABEL,
    MART_VEHICLE_FEATURES,
    MART_VEHICLE_EVENTS,
)
"""Every table build_warehouse_tables returns, in load order (dimensions first)."""

_BY_NAME: Final[dict[str, TableSpec]] = {t.name: t for t in TRANSFORM_TABLES}


def table_spec(name: str) -> TableSpec:
    """The spec of warehouse table ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise KeyError(f"unknown warehouse table {name!r}; known tables: {known}") from None
