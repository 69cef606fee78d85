"""A minimal, fast xlsx writer: a title line, then a table, split over sheets.

The partner's workbooks carry a title line above the header and split large
tables over several sheets. xlsxwriter writes about 15 µs per cell, so a
20,000-vehicle RESULTADOS (30+ million cells) would take over ten minutes; here
each sheet's XML is built column-wise with polars string expressions and
streamed into the zip, which takes seconds. Strings are written inline (no
shared-string table), timestamps as Excel serial numbers with a date format,
empty strings and nulls as absent cells — what Excel itself does with them.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import polars as pl

EXCEL_MAX_ROWS = 1_048_576
ROWS_PER_XML_CHUNK = 100_000
EXCEL_EPOCH = datetime(1899, 12, 30)
MICROSECONDS_PER_DAY = 86_400_000_000

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STYLES = (
    f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
"""Style 0 is the default, style 1 shows a serial number as a timestamp."""


def column_letter(index: int) -> str:
    """Excel column name of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def escape_xml(expr: pl.Expr) -> pl.Expr:
    """Text made safe for an XML element."""
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def text_cell(ref: pl.Expr, text: pl.Expr) -> pl.Expr:
    """An inline-string cell; empty or null text gives no cell at all."""
    cell = pl.concat_str(
        [
            pl.lit('<c r="'),
            ref,
            pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
            escape_xml(text),
            pl.lit("</t></is></c>"),
        ]
    )
    return pl.when(text.is_null() | (text == "")).then(pl.lit("")).otherwise(cell)


def number_cell(ref: pl.Expr, number: pl.Expr, style: int = 0) -> pl.Expr:
    """A numeric cell (style 1: shown as a timestamp); null gives no cell."""
    styled = f'" s="{style}"><v>' if style else '"><v>'
    cell = pl.concat_str(
        [pl.lit('<c r="'), ref, pl.lit(styled), number.cast(pl.String), pl.lit("</v></c>")]
    )
    return pl.when(number.is_null()).then(pl.lit("")).otherwise(cell)


def cell_of(column: str, dtype: pl.DataType, letter: str, row: pl.Expr) -> pl.Expr:
    """The XML of one column's cell, by the column's type."""
    ref = pl.lit(letter) + row
    value = pl.col(column)
    if dtype == pl.String:
        return text_cell(ref, value)
    if isinstance(dtype, pl.Datetime):
        serial = (value.dt.epoch("us") + epoch_offset_us()) / MICROSECONDS_PER_DAY
        return number_cell(ref, serial, style=1)
    if dtype.is_numeric():
        return number_cell(ref, value)
    raise TypeError(f"column {column!r} of type {dtype} cannot be written to xlsx")


def epoch_offset_us() -> int:
    """Microseconds from the Excel epoch (1899-12-30) to the Unix epoch."""
    return int((datetime(1970, 1, 1) - EXCEL_EPOCH).total_seconds()) * 1_000_000


def rows_xml(frame: pl.DataFrame, first_row: int) -> str:
    """``<row>`` elements of ``frame``, the first numbered ``first_row`` (1-based)."""
    row = (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).cast(pl.String)
    cells = [
        cell_of(name, dtype, column_letter(i), row)
        for i, (name, dtype) in enumerate(frame.schema.items())
    ]
    xml = pl.concat_str([pl.lit('<row r="'), row, pl.lit('">'), *cells, pl.lit("</row>")])
    return frame.select(xml.str.join("")).item()


def literal_rows_xml(lines: Sequence[Sequence[str]], first_row: int) -> str:
    """Rows of plain text cells (the title line, the header)."""
    frame = pl.DataFrame(
        {
            f"c{i}": [line[i] if i < len(line) else "" for line in lines]
            for i in range(max(map(len, lines)))
        }
    )
    return rows_xml(frame, first_row)


def write_sheet(archive: zipfile.ZipFile, member: str, title: str, frame: pl.DataFrame) -> None:
    """One worksheet: the title in A1, the header in row 2, then the rows."""
    with archive.open(member, "w", force_zip64=True) as sheet:
        sheet.write(f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}"><sheetData>'.encode())
        sheet.write(literal_rows_xml([[title], frame.columns], 1).encode())
        for offset in range(0, frame.height, ROWS_PER_XML_CHUNK):
            chunk = frame.slice(offset, ROWS_PER_XML_CHUNK)
            sheet.write(rows_xml(chunk, offset + 3).encode())
        sheet.write(b"</sheetData></worksheet>")


def sheet_names(base: str, sheets: int) -> list[str]:
    """``base`` for the first sheet, then ``base (2)``, ``base (3)``, … as Excel names copies."""
    return [base] + [f"{base} ({k})" for k in range(2, sheets + 1)]


def write_workbook(
    path: Path, title: str, frame: pl.DataFrame, sheet_name: str, max_rows: int
) -> list[str]:
    """Write ``frame`` in sheets of at most ``max_rows`` rows; returns the sheet names."""
    names = sheet_names(sheet_name, max(1, -(-frame.height // max_rows)))
    sheets = len(names)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", content_types(sheets))
        archive.writestr(
            "_rels/.rels",
            f'{XML_HEAD}<Relationships xmlns="{PACKAGE_REL_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr("xl/workbook.xml", workbook_xml(names))
        archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels(sheets))
        archive.writestr("xl/styles.xml", STYLES)
        for k in range(sheets):
            part = frame.slice(k * max_rows, max_rows)
            write_sheet(archive, f"xl/worksheets/sheet{k + 1}.xml", title, part)
    return names


def content_types(sheets: int) -> str:
    """The package's part list."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{k + 1}.xml" ContentType="{SHEET_TYPE}"/>'
        for k in range(sheets)
    )
    return (
        f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )


def workbook_xml(names: Sequence[str]) -> str:
    """The workbook part: its sheets, in order."""
    sheets = "".join(
        f'<sheet name="{name}" sheetId="{k + 1}" r:id="rId{k + 1}"/>'
        for k, name in enumerate(names)
    )
    return (
        f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        f"<sheets>{sheets}</sheets></workbook>"
    )


def workbook_rels(sheets: int) -> str:
    """Links from the workbook to its sheets and styles."""
    links = "".join(
        f'<Relationship Id="rId{k + 1}" Type="{REL_NS}/worksheet" '
        f'Target="worksheets/sheet{k + 1}.xml"/>'
        for k in range(sheets)
    )
    return (
        f'{XML_HEAD}<Relationships xmlns="{PACKAGE_REL_NS}">{links}'
        f'<Relationship Id="rId{sheets + 1}" Type="{REL_NS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    )
