"""Write a simulated plant as the partner delivers it, and its truth somewhere else.

Row-level quirks are already in the frames; the file-level quirks of each
format are made here:

- xlsx: a title line above the header row, tables split over several sheets;
- csv: per table either ``;`` + Latin-1 + decimal comma or ``,`` + UTF-8 with a
  decimal point, chosen by ``(seed + table position) % 2`` (see ``csv_style``);
- parquet: the typed columns of the frames.

The truth goes to its own folder, outside the export folder, so that ingesting
the exports can never read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import polars as pl

from roadtest.contracts.partner import SourceTable
from roadtest.simulate.mechanisms import MECHANISMS, describe_mechanisms
from roadtest.simulate.plant import SLOPPY_FACTOR, SLOPPY_INSPECTORS, SimulatedPlant
from roadtest.simulate.xlsx import EXCEL_MAX_ROWS, write_workbook

ExportFormat = Literal["xlsx", "csv", "parquet"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
TABLE_ORDER: tuple[SourceTable, ...] = tuple(SourceTable)
CSV_CHUNK_ROWS = 250_000
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TRUTH_FILE = "truth.parquet"
MECHANISMS_FILE = "mechanisms.json"
TRUTH_COLUMNS: dict[str, str] = {
    "KNR": "vehicle id, as in the exports",
    "p_fail": "true probability that the vehicle fails the road test (1 - prod(1 - p_event))",
    "failed": "what the plant recorded: at least one ROD defect (false when not yet tested)",
    "failed_truly": "the true outcome before inspector misses (for pending vehicles: the "
    "outcome their road test will have)",
    "groups": "true failure groups (S_GROUP_IDs) of a truly failing vehicle, else empty",
    "mechanisms": "mechanisms that caused the failure, else empty",
    "reaches_road_test": "the road test is over at export time (the vehicle is labelled)",
    "road_test_start": "DATA of the vehicle's M710 passage; null when not reached",
    "risk_factors": "mechanisms whose condition the vehicle has, whether they fired or not",
}


@dataclass(frozen=True)
class CsvStyle:
    """How one CSV export is written."""

    separator: str
    encoding: str
    decimal_comma: bool

    def describe(self) -> dict[str, Any]:
        """The style as plain values (for --json output)."""
        return {
            "separator": self.separator,
            "encoding": self.encoding,
            "decimal_comma": self.decimal_comma,
        }


CSV_STYLES = (CsvStyle(";", "latin-1", True), CsvStyle(",", "utf-8", False))


def csv_style(table: SourceTable, seed: int) -> CsvStyle:
    """The CSV style of ``table``: styles alternate over RESULTADOS, FALHAS, STATUS.

    Seed 0 (and every even seed): RESULTADOS and STATUS ``;``/Latin-1/decimal
    comma, FALHAS ``,``/UTF-8; odd seeds the other way round.
    """
    return CSV_STYLES[(seed + TABLE_ORDER.index(table)) % len(CSV_STYLES)]


@dataclass(frozen=True)
class ExportSummary:
    """What ``write_exports`` wrote."""

    out_dir: Path
    truth_dir: Path
    fmt: str
    files: tuple[Path, ...]
    truth_files: tuple[Path, ...]
    rows: Mapping[str, int]
    """Data rows per table (title and header lines not counted)."""
    sheets: Mapping[str, list[str]] = field(default_factory=dict)
    """xlsx only: sheet names per table."""
    csv_styles: Mapping[str, CsvStyle] = field(default_factory=dict)
    """csv only: separator, encoding and decimal mark per table."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, for ``roadtest simulate --json``."""
        return {
            "format": self.fmt,
            "out_dir": str(self.out_dir),
            "truth_dir": str(self.truth_dir),
            "files": [str(path) for path in self.files],
            "truth_files": [str(path) for path in self.truth_files],
            "rows": dict(self.rows),
            "sheets": dict(self.sheets),
            "csv_styles": {table: style.describe() for table, style in self.csv_styles.items()},
        }


def write_exports(
    plant: SimulatedPlant,
    out_dir: Path,
    fmt: ExportFormat,
    truth_dir: Path,
    seed: int = 0,
    max_rows_per_sheet: int = 1_000_000,
) -> ExportSummary:
    """Write RESULTADOS, FALHAS and STATUS to ``out_dir`` as ``fmt``, the truth to ``truth_dir``.

    ``seed`` only picks the CSV style of each table; ``max_rows_per_sheet``
    splits xlsx tables (lower it to get several sheets from a small plant).
    Existing files of the same names are replaced.
    """
    check_export_request(out_dir, fmt, truth_dir, max_rows_per_sheet)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    sheets: dict[str, list[str]] = {}
    styles: dict[str, CsvStyle] = {}
    for table, frame in plant.tables().items():
        path = out_dir / f"{table.value}.{fmt}"
        if fmt == "xlsx":
            title = f"Relatório {table.value} - exportado em {plant.export_time:%d/%m/%Y %H:%M}"
            sheets[table.value] = write_workbook(
                path, title, frame, table.value, max_rows_per_sheet
            )
        elif fmt == "csv":
            styles[table.value] = csv_style(table, seed)
            write_csv(frame, path, styles[table.value])
        else:
            frame.write_parquet(path)
        files.append(path)
    return ExportSummary(
        out_dir=out_dir,
        truth_dir=truth_dir,
        fmt=fmt,
        files=tuple(files),
        truth_files=write_truth(plant, truth_dir),
        rows={table.value: frame.height for table, frame in plant.tables().items()},
        sheets=sheets,
        csv_styles=styles,
    )


def check_export_request(out_dir: Path, fmt: str, truth_dir: Path, max_rows_per_sheet: int) -> None:
    """Refuse requests that would write something unusable, saying what to change."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not 1 <= max_rows_per_sheet <= EXCEL_MAX_ROWS - 2:
        raise ValueError(
            f"max_rows_per_sheet must be between 1 and {EXCEL_MAX_ROWS - 2} (an Excel sheet "
            f"holds {EXCEL_MAX_ROWS} rows, two go to the title and header); "
            f"got {max_rows_per_sheet}"
        )
    exports, truth = out_dir.resolve(), truth_dir.resolve()
    if truth == exports or exports in truth.parents:
        raise ValueError(
            f"the truth folder {truth_dir} is inside the export folder {out_dir}: put it "
            "elsewhere so that ingesting the exports never reads the truth"
        )


def write_csv(frame: pl.DataFrame, path: Path, style: CsvStyle) -> None:
    """Write ``frame`` in ``style``, in chunks so a large table is never held twice as text.

    Empty texts are written as empty fields, as a spreadsheet saves them (not ``""``).
    """
    texts = pl.col(pl.String)
    frame = frame.with_columns(pl.when(texts != "").then(texts).name.keep())
    if style.decimal_comma and "VALUE" in frame.columns:
        frame = frame.with_columns(pl.col("VALUE").str.replace(".", ",", literal=True))
    with path.open("wb") as out:
        for offset in range(0, max(frame.height, 1), CSV_CHUNK_ROWS):
            text = frame.slice(offset, CSV_CHUNK_ROWS).write_csv(
                separator=style.separator,
                include_header=offset == 0,
                datetime_format=DATETIME_FORMAT,
            )
            out.write(text.encode(style.encoding))


def write_truth(plant: SimulatedPlant, truth_dir: Path) -> tuple[Path, ...]:
    """The truth table and a description of the mechanisms that produced it."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth_path = truth_dir / TRUTH_FILE
    plant.truth.write_parquet(truth_path)
    config = plant.config
    description = {
        "about": "Ground truth of a simulated plant. Never a training input.",
        "vehicles": config.vehicles,
        "seed": config.seed,
        "start": config.start.isoformat(),
        "export_time": plant.export_time.isoformat(),
        "drift_date": plant.drift_date.isoformat(),
        "combination": "p_fail = 1 - prod over the vehicle's risk events of (1 - p_event)",
        "mechanisms": describe_mechanisms(plant.drift_date),
        "mechanism_names": list(MECHANISMS),
        "inspectors": {
            "mean_miss_rate": config.inspector_miss_rate,
            "rule": f"{SLOPPY_INSPECTORS} of the 16 road-test inspectors miss "
            f"{SLOPPY_FACTOR:g}x as often as the others; a miss drops all ROD rows of the car",
        },
        "truth_columns": TRUTH_COLUMNS,
    }
    mechanisms_path = truth_dir / MECHANISMS_FILE
    mechanisms_path.write_text(
        json.dumps(description, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return truth_path, mechanisms_path
