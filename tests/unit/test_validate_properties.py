"""Property tests: malformed rows never crash the reader or validator and are never lost."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roadtest.contracts.partner import (
    KNR_PATTERN,
    OPTIONAL_COLUMNS,
    PARTNER_COLUMNS,
    SourceTable,
    bronze_schema,
)
from roadtest.lake.readers import read_sheets
from roadtest.lake.validate import validate_rows

PLAUSIBLE = [
    "2023-2056234",
    " 2023-2056234 ",
    "2023-205623",
    "10",
    "13",
    "13.0",
    "11",
    "M710",
    "m710 ",
    "ROD ",
    "rod",
    "#MULTIVALUE",
    "-2",
    "133",
    "12,5",
    "1.234,5",
    "nan",
    "45296.25",
    "2024-01-05 06:12:33",
    "05/01/2024 06:12:33",
    "31/02/2024 06:12:33",
    "012001",
    "",
    "   ",
]
CELL = st.one_of(
    st.none(),
    st.sampled_from(PLAUSIBLE),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=15),
)
# CSV cells: text a real export holds, Latin-1 encodable, no control characters but
# newlines and tabs (which then need quoting), and the separators and quote itself.
CSV_CELL = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.text(
        st.characters(codec="latin-1", exclude_categories=["Cc"], include_characters='\n\t;,"'),
        max_size=12,
    ),
)


@st.composite
def raw_table(draw: st.DrawFn) -> tuple[SourceTable, pl.DataFrame]:
    table = draw(st.sampled_from(list(SourceTable)))
    optional = sorted(OPTIONAL_COLUMNS[table])
    dropped = draw(st.sets(st.sampled_from(optional))) if optional else set()
    columns = [c for c in PARTNER_COLUMNS[table] if c not in dropped]
    records = draw(st.lists(st.fixed_dictionaries({c: CELL for c in columns}), max_size=25))
    frame = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String))
    return table, frame.with_columns(
        pl.lit("0" * 64).alias("_file_hash"),
        pl.lit("f.csv").alias("_source_file"),
        pl.lit(None, pl.String).alias("_sheet"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row_number"),
        pl.lit(datetime(2024, 1, 1, tzinfo=UTC)).alias("_ingested_at"),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_table())
def test_validation_never_loses_or_invents_rows(case: tuple[SourceTable, pl.DataFrame]) -> None:
    table, raw = case
    bronze, quarantine = validate_rows(raw, table)

    assert bronze.schema == bronze_schema(table)
    assert bronze.height + quarantine.height == raw.height
    assert sorted([*bronze["_row_number"], *quarantine["_row_number"]]) == sorted(
        raw["_row_number"]
    )
    assert all(reason for reason in quarantine["reason"])
    assert all(KNR_PATTERN.match(knr) for knr in bronze["KNR"])
    assert bronze["DATA"].null_count() == 0


def csv_file(header: list[str], rows: list[list[str]], separator: str, title: bool) -> bytes:
    buffer = io.StringIO()
    if title:
        buffer.write("Exportação do sistema\n")
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("latin-1")


@st.composite
def csv_export(draw: st.DrawFn) -> tuple[SourceTable, list[list[str]], bytes]:
    table = draw(st.sampled_from(list(SourceTable)))
    header = list(PARTNER_COLUMNS[table])
    rows = draw(
        st.lists(st.lists(CSV_CELL, min_size=len(header), max_size=len(header)), max_size=20)
    )
    separator = draw(st.sampled_from([";", ","]))
    return table, rows, csv_file(header, rows, separator, draw(st.booleans()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_export())
def test_csv_rows_survive_reading_and_validation(
    case: tuple[SourceTable, list[list[str]], bytes],
) -> None:
    table, rows, data = case
    non_blank = [row for row in rows if any(cell.strip() for cell in row)]

    [sheet] = read_sheets("export.csv", data)
    assert sheet.table is table
    assert sheet.cells.height == len(non_blank)
    read_back = [[cell or "" for cell in row] for row in sheet.cells.drop("_row_number").rows()]
    assert read_back == non_blank

    raw = sheet.cells.with_columns(
        pl.lit("0" * 64).alias("_file_hash"),
        pl.lit("export.csv").alias("_source_file"),
        pl.lit(None, pl.String).alias("_sheet"),
        pl.lit(datetime(2024, 1, 1, tzinfo=UTC)).alias("_ingested_at"),
    )
    bronze, quarantine = validate_rows(raw, table)
    assert bronze.height + quarantine.height == len(non_blank)
