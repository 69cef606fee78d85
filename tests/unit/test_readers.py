"""Readers turn each export format and quirk into the same text cells."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime

import polars as pl
import pytest
import xlsxwriter

from roadtest.contracts.partner import PARTNER_COLUMNS, SourceTable
from roadtest.lake.readers import UnreadableFileError, read_sheets

RESULT_HEADER = list(PARTNER_COLUMNS[SourceTable.RESULTADOS])
RESULT_ROW = ["2023-2056234", "012001", "1", "10", "Nm", "1", "12,5", "05/01/2024 06:12:33"]
FALHAS_HEADER = [c for c in PARTNER_COLUMNS[SourceTable.FALHAS] if c != "S_GROUP_ID"]


def xlsx_bytes(sheets: Mapping[str, Sequence[Sequence[object]]]) -> bytes:
    """A workbook with one sheet per entry; strings are written as text cells."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, datetime):
                    sheet.write_datetime(r, c, value, date_format)
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif value is not None:
                    sheet.write_number(r, c, float(value))  # type: ignore[arg-type]
    workbook.close()
    return buffer.getvalue()


def csv_bytes(rows: list[list[str]], separator: str, encoding: str = "utf-8") -> bytes:
    return "".join(separator.join(row) + "\n" for row in rows).encode(encoding)


def only_sheet(name: str, data: bytes) -> pl.DataFrame:
    sheets = read_sheets(name, data)
    assert len(sheets) == 1
    return sheets[0].cells


def test_xlsx_with_a_title_line_above_the_header() -> None:
    data = xlsx_bytes({"Plan1": [["Relatório de resultados"], RESULT_HEADER, RESULT_ROW]})
    [sheet] = read_sheets("res.xlsx", data)
    assert sheet.table is SourceTable.RESULTADOS
    assert sheet.sheet == "Plan1"
    assert sheet.cells.drop("_row_number").row(0) == tuple(RESULT_ROW)
    assert sheet.cells.get_column("_row_number").to_list() == [1]


def test_xlsx_native_numbers_and_datetimes_become_parseable_text() -> None:
    row: list[object] = ["2023-2056234", "012001", 718, 13, "V", "2", 12.5]
    row.append(datetime(2024, 1, 5, 6, 12, 33))
    cells = only_sheet("res.xlsx", xlsx_bytes({"S": [RESULT_HEADER, row]}))
    assert cells.row(0, named=True) | {"_row_number": 0} == {
        "_row_number": 0,
        "KNR": "2023-2056234",
        "NAME": "012001",
        "ID": "718",
        "STATUS": "13",
        "UNIT": "V",
        "VALUE_ID": "2",
        "VALUE": "12.5",
        "DATA": "2024-01-05 06:12:33",
    }


def test_xlsx_several_sheets_are_read_in_order_with_their_names() -> None:
    second = ["2023-2056235", *RESULT_ROW[1:]]
    data = xlsx_bytes(
        {
            "Parte 1": [["Export"], RESULT_HEADER, RESULT_ROW, RESULT_ROW],
            "Parte 2": [RESULT_HEADER, second],
            "Vazio": [],
        }
    )
    sheets = read_sheets("res.xlsx", data)
    assert [(s.sheet, s.cells.height) for s in sheets] == [("Parte 1", 2), ("Parte 2", 1)]
    assert sheets[1].cells.get_column("KNR").to_list() == ["2023-2056235"]
    assert sheets[1].cells.get_column("_row_number").to_list() == [1]


def test_xlsx_sheets_of_different_exports_are_refused() -> None:
    data = xlsx_bytes(
        {"A": [RESULT_HEADER, RESULT_ROW], "B": [["KNR", "STATUS", "DATA"], ["k", "M710", "d"]]}
    )
    with pytest.raises(UnreadableFileError, match="mixes several exports"):
        read_sheets("mixed.xlsx", data)


def test_semicolon_latin1_csv_with_decimal_comma_and_title() -> None:
    row = ["2023-2056234", "T-ROC", "2R2R", "DHS", "HCEQS506", "u1", "ROD "]
    row += ["PARA-CHOQUE AMASSADO", "2024-01-05 06:12:33"]
    rows = [["Exportação FALHAS"], FALHAS_HEADER, row]
    cells = only_sheet("falhas.csv", csv_bytes(rows, ";", "latin-1"))
    assert cells.get_column("HALLE").to_list() == ["ROD "]
    assert cells.get_column("FALHA").to_list() == ["PARA-CHOQUE AMASSADO"]
    assert "S_GROUP_ID" not in cells.columns


def test_latin1_accents_survive() -> None:
    rows = [[*FALHAS_HEADER], ["2023-2056234", "M", "C", "DHS", "E", "u", "ZP5", "PORTA AÇO", "d"]]
    cells = only_sheet("f.csv", csv_bytes(rows, ";", "latin-1"))
    assert cells.get_column("FALHA").to_list() == ["PORTA AÇO"]


def test_comma_utf8_csv_with_byte_order_mark_and_quoted_decimal_comma() -> None:
    text = "\ufeffKNR,NAME,ID,STATUS,UNIT,VALUE_ID,VALUE,DATA\n"
    text += '2023-2056234,012001,1,10,Nm,1,"12,5",2024-01-05 06:12:33\n'
    cells = only_sheet("res.csv", text.encode("utf-8"))
    assert cells.get_column("VALUE").to_list() == ["12,5"]
    assert cells.get_column("NAME").to_list() == ["012001"]


def test_header_is_recognised_case_and_space_insensitively() -> None:
    data = csv_bytes([[" knr ", "Status", "data"], ["2023-2056234", "M710", "d"]], ",")
    [sheet] = read_sheets("s.csv", data)
    assert sheet.table is SourceTable.STATUS
    assert sheet.cells.columns == ["_row_number", "KNR", "STATUS", "DATA"]


def test_unnamed_header_artefacts_in_parquet_find_the_real_header_row() -> None:
    grid = pl.DataFrame(
        {f"Unnamed: {i}": [RESULT_HEADER[i], RESULT_ROW[i]] for i in range(len(RESULT_HEADER))}
    )
    buffer = io.BytesIO()
    grid.write_parquet(buffer)
    cells = only_sheet("res.parquet", buffer.getvalue())
    assert cells.drop("_row_number").row(0) == tuple(RESULT_ROW)


def test_csv_saved_by_pandas_from_a_titled_sheet_finds_the_header_below() -> None:
    artefacts = ["Relatório STATUS", "Unnamed: 1", "Unnamed: 2"]
    rows = [artefacts, ["KNR", "STATUS", "DATA"], ["2023-2056234", "M710", "d"]]
    [sheet] = read_sheets("s.csv", csv_bytes(rows, ","))
    assert sheet.table is SourceTable.STATUS
    assert sheet.cells.drop("_row_number").rows() == [("2023-2056234", "M710", "d")]


def test_unnamed_index_column_in_csv_is_ignored() -> None:
    rows = [["Unnamed: 0", "KNR", "STATUS", "DATA"], ["0", "2023-2056234", "M710", "d"]]
    cells = only_sheet("s.csv", csv_bytes(rows, ","))
    assert cells.columns == ["_row_number", "KNR", "STATUS", "DATA"]


def test_parquet_with_native_types_is_read_as_text() -> None:
    frame = pl.DataFrame(
        {
            "KNR": ["2023-2056234"],
            "NAME": ["012001"],
            "ID": [2],
            "STATUS": [10],
            "UNIT": ["Nm"],
            "VALUE_ID": ["3"],
            "VALUE": [21.75],
            "DATA": [datetime(2024, 1, 5, 6, 12, 33)],
        }
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    cells = only_sheet("res.parquet", buffer.getvalue())
    expected = {"_row_number": pl.Int64, **dict.fromkeys(RESULT_HEADER, pl.String)}
    assert cells.schema == pl.Schema(expected)
    assert cells.row(0, named=True)["VALUE"] == "21.75"
    assert cells.row(0, named=True)["ID"] == "2"
    assert cells.row(0, named=True)["DATA"].startswith("2024-01-05 06:12:33")


def test_blank_rows_are_not_data_but_row_numbers_keep_their_position() -> None:
    rows = [["KNR", "STATUS", "DATA"], ["2023-2056234", "M710", "d"], ["", "", ""], ["k2", "", ""]]
    cells = only_sheet("s.csv", csv_bytes(rows, ";"))
    assert cells.get_column("_row_number").to_list() == [1, 3]


def test_duplicate_rows_are_all_kept() -> None:
    rows = [RESULT_HEADER, RESULT_ROW, RESULT_ROW, RESULT_ROW]
    assert only_sheet("r.csv", csv_bytes(rows, ";")).height == 3


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"  \n\n", "is empty"),
        ("bad.xlsx", b"this is not a workbook", "named like an Excel workbook but is not one"),
        ("bad.parquet", b"nope", "named like a Parquet file"),
        ("other.csv", b"a;b;c\n1;2;3\n", "no header row with the columns of a known export"),
        ("cr.csv", b"0\r\t\r\n", "no header row with the columns of a known export"),
        ("dup.csv", b"KNR;STATUS;DATA;DATA\nk;s;d;d\n", "names the column DATA twice"),
        ("ragged.csv", b"KNR;STATUS;DATA\nk;s;d;extra;more\n", "more cells than the header"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(name: str, data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFileError, match=message):
        read_sheets(name, data)


def test_truncated_workbook_is_refused_clearly() -> None:
    data = xlsx_bytes({"S": [RESULT_HEADER, RESULT_ROW]})
    with pytest.raises(UnreadableFileError, match="could not be opened as an Excel workbook"):
        read_sheets("cut.xlsx", data[: len(data) // 2])


def test_zip_that_is_no_workbook_is_refused_clearly() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(UnreadableFileError, match="could not be opened as an Excel workbook"):
        read_sheets("fake.xlsx", buffer.getvalue())


def test_workbook_whose_sheet_has_no_header_names_the_sheet() -> None:
    data = xlsx_bytes({"Dados": [["a", "b"], ["1", "2"]]})
    with pytest.raises(UnreadableFileError, match="sheet 'Dados'"):
        read_sheets("x.xlsx", data)
