"""Turn a received file (xlsx, csv or parquet bytes) into string cells of a partner table.

Everything is read as text, so that validation, not a reader's type guessing,
decides what a cell means and nothing is silently coerced (leading zeros of
``NAME`` survive, a ``VALUE`` of ``12,5`` is not lost). The table is recognised
by its header, searched in the first rows because exports often carry a title
line above it (and pandas round trips turn such headers into ``Unnamed: n``).

Rows whose partner cells are all empty are not data (Excel's formatted blank
tail, empty lines of a CSV) and are not counted as read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import fastexcel
import polars as pl

from roadtest.contracts.partner import PARTNER_COLUMNS, SourceTable, required_columns

FileFormat = Literal["excel", "csv", "parquet"]

HEADER_SEARCH_ROWS: Final = 20
"""How many leading rows may hold a title before the header row."""

ROW_NUMBER: Final = "_row_number"

_EXTENSIONS: Final[dict[str, FileFormat]] = {
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SUPPORTED_EXTENSIONS: Final = frozenset(_EXTENSIONS)

_ZIP_MAGIC: Final = b"PK\x03\x04"
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0"
_PARQUET_MAGIC: Final = b"PAR1"
_CSV_SEPARATORS: Final = (";", ",", "\t", "|")
_TEXT_ENCODINGS: Final = ("utf-8-sig", "cp1252", "latin-1")
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_SNIFF_CHARS: Final = 1 << 16


class UnreadableFileError(ValueError):
    """A file whose content cannot be read as a partner export; the message says why."""


@dataclass(frozen=True)
class RawSheet:
    """The data rows of one sheet (or of a whole csv/parquet file) as text cells.

    ``cells`` holds the partner columns found in the header (canonical names,
    all ``String``) and ``_row_number``: 1 for the first row below the header.
    """

    table: SourceTable
    sheet: str | None
    cells: pl.DataFrame


@dataclass(frozen=True)
class HeaderMatch:
    """Where the header is, which table it announces and which column holds which field."""

    row_index: int
    table: SourceTable
    columns: dict[int, str]  # position in the row -> partner column name


def detect_format(name: str, data: bytes) -> FileFormat:
    """The file's format from its leading bytes, falling back to its extension."""
    if data.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        return "excel"
    if data.startswith(_PARQUET_MAGIC):
        return "parquet"
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    declared = _EXTENSIONS.get(suffix)
    if declared == "excel":
        raise UnreadableFileError(
            f"{name} is named like an Excel workbook but is not one (the file is damaged "
            "or was saved in another format); export it again from the source system."
        )
    if declared == "parquet":
        raise UnreadableFileError(f"{name} is named like a Parquet file but is not one.")
    return "csv"


def match_header(cells: Sequence[object]) -> HeaderMatch | None:
    """Recognise a header row: the table whose columns it names best, required ones all present."""
    names = [_normalise_label(cell) for cell in cells]
    best: tuple[int, SourceTable] | None = None
    for table in SourceTable:
        if not all(column in names for column in required_columns(table)):
            continue
        score = sum(column in names for column in PARTNER_COLUMNS[table])
        if best is None or score > best[0]:
            best = (score, table)
    if best is None:
        return None
    table = best[1]
    columns: dict[int, str] = {}
    for position, label in enumerate(names):
        if label in PARTNER_COLUMNS[table]:
            if label in columns.values():
                raise UnreadableFileError(
                    f"The header names the column {label} twice, so its values are ambiguous."
                )
            columns[position] = label
    return HeaderMatch(row_index=0, table=table, columns=columns)


def find_header(rows: Sequence[Sequence[object]]) -> HeaderMatch | None:
    """The first of ``rows`` that is a header of a partner table, with its index."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        match = match_header(row)
        if match is not None:
            return HeaderMatch(index, match.table, match.columns)
    return None


def read_sheets(name: str, data: bytes) -> list[RawSheet]:
    """Every non-empty sheet of a received file as text cells of one partner table."""
    if not data or data.isspace():
        raise UnreadableFileError(f"{name} is empty.")
    file_format = detect_format(name, data)
    if file_format == "excel":
        sheets = _read_excel(name, data)
    elif file_format == "parquet":
        sheets = [_sheet_from_grid(name, None, _read_parquet_grid(name, data))]
    else:
        sheets = [_read_csv(name, data)]
    tables = {sheet.table for sheet in sheets}
    if len(tables) > 1:
        listing = ", ".join(f"sheet {s.sheet!r} holds {s.table}" for s in sheets)
        raise UnreadableFileError(
            f"{name} mixes several exports ({listing}); send one export per file."
        )
    return sheets


def _normalise_label(cell: object) -> str:
    return "" if cell is None else str(cell).strip().upper()


def _no_header_error(name: str, where: str) -> UnreadableFileError:
    expected = "; ".join(f"{table}: {', '.join(required_columns(table))}" for table in SourceTable)
    return UnreadableFileError(
        f"{name}{where} has no header row with the columns of a known export in its first "
        f"{HEADER_SEARCH_ROWS} rows (expected — {expected})."
    )


def _sheet_from_grid(name: str, sheet: str | None, grid: pl.DataFrame) -> RawSheet:
    """Find the header in a string grid (its column labels or first rows) and keep the data."""
    where = f" (sheet {sheet!r})" if sheet is not None else ""
    label_match = match_header(grid.columns)
    if label_match is not None:
        body = grid
        columns = label_match.columns
        table = label_match.table
    else:
        head = grid.head(HEADER_SEARCH_ROWS).rows()
        match = find_header(head)
        if match is None:
            raise _no_header_error(name, where)
        body = grid.slice(match.row_index + 1)
        columns = match.columns
        table = match.table
    return RawSheet(table, sheet, _select_partner_cells(body, columns))


def _select_partner_cells(body: pl.DataFrame, columns: dict[int, str]) -> pl.DataFrame:
    """Partner columns under canonical names, numbered rows, blank rows dropped."""
    selected = body.select(
        [pl.col(body.columns[position]).alias(label) for position, label in columns.items()]
    ).with_row_index(ROW_NUMBER, offset=1)
    not_blank = pl.any_horizontal(
        [pl.col(label).str.strip_chars().str.len_chars() > 0 for label in columns.values()]
    ).fill_null(False)
    return selected.filter(not_blank).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))


def _read_excel(name: str, data: bytes) -> list[RawSheet]:
    try:
        workbook = fastexcel.read_excel(data)
        sheet_names = list(workbook.sheet_names)
    except Exception as error:
        raise UnreadableFileError(
            f"{name} could not be opened as an Excel workbook (it may be damaged or "
            f"password-protected): {_first_line(error)}"
        ) from error
    sheets: list[RawSheet] = []
    for sheet_name in sheet_names:
        try:
            loaded = workbook.load_sheet(sheet_name, header_row=None, dtypes="string")
            grid = loaded.to_polars()
        except Exception as error:
            raise UnreadableFileError(
                f"{name}: sheet {sheet_name!r} could not be read: {_first_line(error)}"
            ) from error
        if grid.height == 0 or grid.width == 0:
            continue
        grid = grid.select(pl.all().cast(pl.String))
        sheets.append(_sheet_from_grid(name, sheet_name, grid))
    if not sheets:
        raise UnreadableFileError(f"{name} is an Excel workbook without any data.")
    return sheets


def _read_parquet_grid(name: str, data: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as error:
        raise UnreadableFileError(
            f"{name} could not be read as a Parquet file (it may be damaged or truncated): "
            f"{_first_line(error)}"
        ) from error
    return frame.select(pl.all().cast(pl.String))


def decode_text(data: bytes) -> tuple[str, str]:
    """Text of a CSV export and its encoding: UTF-8 when it decodes so, else Windows/Latin-1."""
    for encoding in _TEXT_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def sniff_csv_header(lines: Sequence[str]) -> tuple[str, HeaderMatch] | None:
    """The separator and header row of a CSV export, found by trying each separator."""
    for index, line in enumerate(lines[:HEADER_SEARCH_ROWS]):
        candidates = []
        for separator in _CSV_SEPARATORS:
            if separator not in line:
                continue
            try:
                fields = next(csv.reader([line], delimiter=separator), [])
            except csv.Error:  # a stray carriage return inside a line: not a header row
                continue
            match = match_header(fields)
            if match is not None:
                candidates.append((len(match.columns), separator, match))
        if candidates:
            _, separator, match = max(candidates, key=lambda item: item[0])
            return separator, HeaderMatch(index, match.table, match.columns)
    return None


def _read_csv(name: str, data: bytes) -> RawSheet:
    text, encoding = decode_text(data)
    utf8 = data.removeprefix(_UTF8_BOM) if encoding == "utf-8-sig" else text.encode("utf-8")
    lines = [line.rstrip("\r") for line in text[:_SNIFF_CHARS].split("\n")]
    sniffed = sniff_csv_header(lines)
    if sniffed is None:
        raise _no_header_error(name, "")
    separator, header = sniffed
    try:
        frame = pl.read_csv(
            utf8,
            separator=separator,
            has_header=False,
            skip_lines=header.row_index,
            infer_schema=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as error:
        raise UnreadableFileError(
            f"{name} could not be read as a '{separator}'-separated file; some line probably "
            f"has more cells than the header: {_first_line(error)}"
        ) from error
    return RawSheet(header.table, None, _select_partner_cells(frame.slice(1), header.columns))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
