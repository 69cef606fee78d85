"""Validation keeps every row: typed in bronze with flags, or quarantined with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from roadtest.contracts.partner import (
    PARTNER_COLUMNS,
    QUARANTINE_SCHEMA,
    SourceTable,
    bronze_schema,
)
from roadtest.lake.validate import validate_rows

INGESTED_AT = datetime(2024, 2, 1, 12, tzinfo=UTC)
GOOD = {
    SourceTable.RESULTADOS: {
        "KNR": "2023-2056234",
        "NAME": "012001",
        "ID": "2",
        "STATUS": "10",
        "UNIT": "Nm",
        "VALUE_ID": "1",
        "VALUE": "21.5",
        "DATA": "2024-01-05 06:12:33",
    },
    SourceTable.FALHAS: {
        "KNR": "2023-2056234",
        "MODELO": "T1",
        "COR": "2R2R",
        "MOTOR": "DHS",
        "ESTACAO": "HCEQS506",
        "USUARIO": "U001",
        "HALLE": "ZP5",
        "FALHA": "PARALAMA DIANTEIRO 01. AMASSADO",
        "S_GROUP_ID": "5",
        "DATA": "2024-01-05 06:12:33",
    },
    SourceTable.STATUS: {"KNR": "2023-2056234", "STATUS": "M710", "DATA": "2024-01-05 06:12:33"},
}


def rows(table: SourceTable, *changes: dict[str, str | None]) -> pl.DataFrame:
    """One raw row per ``changes`` entry: the good row with those cells replaced."""
    records = [{**GOOD[table], **change} for change in changes]
    frame = pl.DataFrame(records, schema=dict.fromkeys(GOOD[table], pl.String))
    return frame.with_columns(
        pl.lit("f" * 64).alias("_file_hash"),
        pl.lit("export.csv").alias("_source_file"),
        pl.lit(None, pl.String).alias("_sheet"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row_number"),
        pl.lit(INGESTED_AT).alias("_ingested_at"),
    )


def one_valid(table: SourceTable, change: dict[str, str | None]) -> dict[str, object]:
    bronze, quarantine = validate_rows(rows(table, change), table)
    assert quarantine.height == 0, quarantine.get_column("reason").to_list()
    return bronze.row(0, named=True)


def one_reason(table: SourceTable, change: dict[str, str | None]) -> str:
    bronze, quarantine = validate_rows(rows(table, change), table)
    assert bronze.height == 0
    return str(quarantine.get_column("reason").item())


@pytest.mark.parametrize("table", list(SourceTable))
def test_good_rows_load_unflagged_with_the_bronze_schema(table: SourceTable) -> None:
    bronze, quarantine = validate_rows(rows(table, {}), table)
    assert bronze.schema == bronze_schema(table)
    assert quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
    assert bronze.height == 1
    assert bronze.get_column("_flags").to_list() == [""]
    assert bronze.row(0, named=True)["_ingested_at"] == INGESTED_AT


def test_resultados_values_are_typed_and_leading_zeros_kept() -> None:
    row = one_valid(SourceTable.RESULTADOS, {})
    assert row["NAME"] == "012001"
    assert (row["ID"], row["STATUS"], row["VALUE"]) == (2, 10, 21.5)
    assert row["DATA"] == datetime(2024, 1, 5, 6, 12, 33)


def test_decimal_comma_is_normalised_and_flagged() -> None:
    row = one_valid(SourceTable.RESULTADOS, {"VALUE": "-12,75"})
    assert row["VALUE"] == -12.75
    assert row["_flags"] == "decimal_comma"


def test_empty_value_and_unit_are_null_not_rejected() -> None:
    row = one_valid(SourceTable.RESULTADOS, {"VALUE": " ", "UNIT": "", "VALUE_ID": None})
    assert (row["VALUE"], row["UNIT"], row["VALUE_ID"]) == (None, None, None)


def test_excel_style_whole_numbers_are_accepted() -> None:
    row = one_valid(SourceTable.RESULTADOS, {"ID": "718.0", "STATUS": "13"})
    assert (row["ID"], row["STATUS"]) == (718, 13)


def test_unknown_id_group_is_kept_and_flagged() -> None:
    row = one_valid(SourceTable.RESULTADOS, {"ID": "5"})
    assert row["ID"] == 5
    assert row["_flags"] == "unknown_id_group"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-05 06:12:33", datetime(2024, 1, 5, 6, 12, 33)),
        ("2024-01-05 06:12:33.250", datetime(2024, 1, 5, 6, 12, 33, 250000)),
        ("2024-01-05T06:12:33", datetime(2024, 1, 5, 6, 12, 33)),
        ("05/01/2024 06:12:33", datetime(2024, 1, 5, 6, 12, 33)),
        ("05/01/2024 06:12", datetime(2024, 1, 5, 6, 12)),
        ("2024-01-05", datetime(2024, 1, 5)),
        ("45296.25", datetime(2024, 1, 5, 6)),
    ],
)
def test_timestamp_formats_of_the_exports(text: str, expected: datetime) -> None:
    assert one_valid(SourceTable.STATUS, {"DATA": text})["DATA"] == expected


def test_trailing_spaces_are_trimmed_and_flagged() -> None:
    row = one_valid(SourceTable.FALHAS, {"HALLE": "ROD ", "KNR": " 2023-2056234", "COR": "2R2R "})
    assert (row["HALLE"], row["KNR"], row["COR"]) == ("ROD", "2023-2056234", "2R2R")
    assert row["_flags"] == "trimmed"


def test_mixed_case_is_upper_cased_and_inner_spaces_collapsed() -> None:
    row = one_valid(
        SourceTable.FALHAS, {"HALLE": "rod", "FALHA": "Paralama  dianteiro 01. amassado"}
    )
    assert row["HALLE"] == "ROD"
    assert row["FALHA"] == "PARALAMA DIANTEIRO 01. AMASSADO"
    assert row["_flags"] == "upper_cased,spaces_collapsed"


def test_status_codes_are_upper_cased() -> None:
    row = one_valid(SourceTable.STATUS, {"STATUS": " m710"})
    assert row["STATUS"] == "M710"
    assert row["_flags"] == "trimmed,upper_cased"


@pytest.mark.parametrize("junk", ["-2", "#MULTIVALUE", "3", "1.5", "abc", "NaN", "inf", "1e300"])
def test_junk_s_group_becomes_null_and_flagged(junk: str) -> None:
    row = one_valid(SourceTable.FALHAS, {"S_GROUP_ID": junk})
    assert row["S_GROUP_ID"] is None
    assert row["_flags"] == "s_group_junk"


@pytest.mark.parametrize(("text", "group"), [("133", 133), ("9830946", 9830946), ("5.0", 5)])
def test_known_s_groups_are_kept(text: str, group: int) -> None:
    assert one_valid(SourceTable.FALHAS, {"S_GROUP_ID": text})["S_GROUP_ID"] == group


def test_empty_s_group_is_null_without_flag() -> None:
    row = one_valid(SourceTable.FALHAS, {"S_GROUP_ID": ""})
    assert (row["S_GROUP_ID"], row["_flags"]) == (None, "")


def test_missing_optional_columns_are_null_and_flagged() -> None:
    raw = rows(SourceTable.FALHAS, {}).drop("S_GROUP_ID", "USUARIO")
    bronze, quarantine = validate_rows(raw, SourceTable.FALHAS)
    assert quarantine.height == 0
    row = bronze.row(0, named=True)
    assert (row["S_GROUP_ID"], row["USUARIO"]) == (None, None)
    assert row["_flags"] == "usuario_missing_column,s_group_missing_column"


def test_missing_required_column_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="without columns \\['HALLE'\\]"):
        validate_rows(rows(SourceTable.FALHAS, {}).drop("HALLE"), SourceTable.FALHAS)


@pytest.mark.parametrize(
    ("table", "change", "reason"),
    [
        (SourceTable.STATUS, {"KNR": None}, "KNR is empty"),
        (SourceTable.STATUS, {"KNR": "  "}, "KNR is empty"),
        (SourceTable.STATUS, {"KNR": "2023/2056234"}, "KNR '2023/2056234' is not a vehicle id"),
        (SourceTable.STATUS, {"DATA": None}, "DATA is empty"),
        (SourceTable.STATUS, {"DATA": "ontem"}, "DATA 'ontem' is not a date and time"),
        (SourceTable.STATUS, {"DATA": "31/02/2024 10:00:00"}, "is not a date and time"),
        (SourceTable.STATUS, {"DATA": "2024"}, "DATA '2024' is not a date and time"),
        (SourceTable.STATUS, {"STATUS": "M71"}, "STATUS 'M71' is not a rail-sensor code"),
        (SourceTable.STATUS, {"STATUS": ""}, "STATUS is empty"),
        (SourceTable.RESULTADOS, {"STATUS": "11"}, "STATUS '11' is not a result status"),
        (SourceTable.RESULTADOS, {"STATUS": None}, "STATUS is empty"),
        (SourceTable.RESULTADOS, {"ID": "x1"}, "ID 'x1' is not a whole number"),
        (SourceTable.RESULTADOS, {"ID": ""}, "ID is empty"),
        (SourceTable.RESULTADOS, {"VALUE": "12.5.1"}, "VALUE '12.5.1' is not a number"),
        (SourceTable.RESULTADOS, {"VALUE": "inf"}, "VALUE 'inf' is not a number"),
        (SourceTable.RESULTADOS, {"VALUE": "1,234.5"}, "VALUE '1,234.5' is not a number"),
        (SourceTable.RESULTADOS, {"ID": "2.5"}, "ID '2.5' is not a whole number"),
        (SourceTable.FALHAS, {"HALLE": " "}, "HALLE (zone) is empty"),
    ],
)
def test_invalid_rows_are_quarantined_with_a_reason(
    table: SourceTable, change: dict[str, str | None], reason: str
) -> None:
    assert reason in one_reason(table, change)


def test_every_problem_of_a_row_is_named() -> None:
    reason = one_reason(SourceTable.RESULTADOS, {"KNR": None, "DATA": "x", "VALUE": "abc"})
    assert reason == (
        "KNR is empty; DATA 'x' is not a date and time (expected e.g. 2024-01-05 06:12:33); "
        "VALUE 'abc' is not a number"
    )


def test_quarantine_keeps_raw_values_and_lineage() -> None:
    raw = rows(SourceTable.RESULTADOS, {}, {"STATUS": "99 ", "VALUE": None})
    bronze, quarantine = validate_rows(raw, SourceTable.RESULTADOS)
    assert bronze.height == 1
    row = quarantine.row(0, named=True)
    assert row["table"] == "RESULTADOS"
    assert row["_row_number"] == 2
    assert row["_file_hash"] == "f" * 64
    assert json.loads(row["raw"]) == {
        **GOOD[SourceTable.RESULTADOS],
        "STATUS": "99 ",
        "VALUE": None,
    }
    assert list(json.loads(row["raw"])) == list(PARTNER_COLUMNS[SourceTable.RESULTADOS])


def test_long_bad_values_are_cut_in_the_reason_but_kept_in_raw() -> None:
    long_knr = "X" * 500
    raw = rows(SourceTable.STATUS, {"KNR": long_knr})
    _, quarantine = validate_rows(raw, SourceTable.STATUS)
    assert len(quarantine.get_column("reason").item()) < 200
    assert json.loads(quarantine.get_column("raw").item())["KNR"] == long_knr


def test_duplicated_rows_are_all_kept() -> None:
    bronze, _ = validate_rows(rows(SourceTable.STATUS, {}, {}, {}), SourceTable.STATUS)
    assert bronze.height == 3


def test_rows_read_equal_bronze_plus_quarantine() -> None:
    changes: list[dict[str, str | None]] = [
        {},
        {"KNR": None},
        {"STATUS": "13"},
        {"DATA": "?"},
        {"VALUE": "1,5"},
    ]
    raw = rows(SourceTable.RESULTADOS, *changes)
    bronze, quarantine = validate_rows(raw, SourceTable.RESULTADOS)
    assert (bronze.height, quarantine.height) == (3, 2)
    numbers = sorted([*bronze["_row_number"], *quarantine["_row_number"]])
    assert numbers == [1, 2, 3, 4, 5]
