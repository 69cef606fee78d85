"""Files written by the simulator: xlsx, csv and parquet quirks, and the separate truth."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pytest

from roadtest.contracts.partner import SourceTable
from roadtest.simulate import (
    CSV_STYLES,
    ExportFormat,
    PlantConfig,
    SimulatedPlant,
    csv_style,
    simulate_plant,
    write_exports,
)
from roadtest.simulate.mechanisms import MECHANISMS

Exports = Callable[[ExportFormat], Path]


@pytest.fixture(scope="module")
def tiny_plant() -> SimulatedPlant:
    """A plant small enough to write many times."""
    return simulate_plant(PlantConfig(vehicles=40, seed=9))


def comparable(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as a file reader returns it: empty texts read back as null."""
    texts = pl.col(pl.String)
    return frame.with_columns(pl.when(texts != "").then(texts).name.keep())


def read_xlsx(path: Path, schema: pl.Schema) -> tuple[list[str], pl.DataFrame]:
    """All sheets of an export workbook (title line skipped), in sheet order."""
    sheets = pl.read_excel(
        path,
        sheet_id=0,
        read_options={"header_row": 1},
        schema_overrides={name: dtype for name, dtype in schema.items() if name != "DATA"},
    )
    frame = pl.concat(list(sheets.values())).with_columns(pl.col("DATA").cast(pl.Datetime("us")))
    return list(sheets), frame


def test_xlsx_has_a_title_line_above_the_header(plant_exports: Exports) -> None:
    path = plant_exports("xlsx") / "FALHAS.xlsx"
    raw = pl.read_excel(path, has_header=False)
    assert str(raw.row(0)[0]).startswith("Relatório FALHAS")
    assert list(raw.row(1)) == list(
        pl.read_parquet(plant_exports("parquet") / "FALHAS.parquet").columns
    )


def test_xlsx_splits_a_large_table_over_sheets_and_keeps_every_row(
    plant_exports: Exports, small_plant: SimulatedPlant
) -> None:
    frame = small_plant.resultados
    names, read = read_xlsx(plant_exports("xlsx") / "RESULTADOS.xlsx", frame.schema)
    assert names == ["RESULTADOS", "RESULTADOS (2)"]
    assert read.equals(comparable(frame))


def test_xlsx_keeps_text_as_text(plant_exports: Exports, small_plant: SimulatedPlant) -> None:
    frame = small_plant.falhas
    _, read = read_xlsx(plant_exports("xlsx") / "FALHAS.xlsx", frame.schema)
    assert read.equals(comparable(frame))
    assert read["HALLE"].str.ends_with(" ").any()


def test_xlsx_sheet_size_is_configurable(tiny_plant: SimulatedPlant, tmp_path: Path) -> None:
    summary = write_exports(
        tiny_plant, tmp_path / "x", "xlsx", tmp_path / "t", max_rows_per_sheet=500
    )
    for table, frame in tiny_plant.tables().items():
        expected = -(-frame.height // 500)
        assert len(summary.sheets[table.value]) == expected
        with zipfile.ZipFile(tmp_path / "x" / f"{table.value}.xlsx") as archive:
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
            assert len(sheets) == expected
            for name in archive.namelist():
                if name.endswith((".xml", ".rels")):
                    ElementTree.fromstring(archive.read(name))


def test_csv_styles_alternate_by_table_and_seed() -> None:
    assert csv_style(SourceTable.RESULTADOS, 0) == CSV_STYLES[0]
    assert csv_style(SourceTable.FALHAS, 0) == CSV_STYLES[1]
    assert csv_style(SourceTable.STATUS, 0) == CSV_STYLES[0]
    assert csv_style(SourceTable.RESULTADOS, 1) == CSV_STYLES[1]
    assert {style.separator for style in CSV_STYLES} == {";", ","}


def test_semicolon_csv_is_latin1_with_decimal_comma(plant_exports: Exports) -> None:
    data = (plant_exports("csv") / "RESULTADOS.csv").read_bytes()
    text = data.decode("latin-1")
    assert text.splitlines()[0] == "KNR;NAME;ID;STATUS;UNIT;VALUE_ID;VALUE;DATA"
    values = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False)["VALUE"].drop_nulls()
    assert values.str.contains(",").any() and not values.str.contains(r"\.").any()
    assert '""' not in text


def test_comma_csv_is_utf8(plant_exports: Exports) -> None:
    data = (plant_exports("csv") / "FALHAS.csv").read_bytes()
    text = data.decode("utf-8")
    assert text.startswith("KNR,MODELO,COR,MOTOR,ESTACAO,USUARIO,HALLE,FALHA,S_GROUP_ID,DATA\n")
    assert any(ord(ch) > 127 for ch in text)


def test_latin1_csv_round_trips(tiny_plant: SimulatedPlant, tmp_path: Path) -> None:
    write_exports(tiny_plant, tmp_path / "x", "csv", tmp_path / "t", seed=1)
    data = (tmp_path / "x" / "FALHAS.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    read = pl.read_csv(
        io.StringIO(data.decode("latin-1")),
        separator=";",
        infer_schema=False,
    ).with_columns(pl.col("DATA").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us"))
    assert read.equals(comparable(tiny_plant.falhas))


def test_parquet_keeps_the_frames(plant_exports: Exports, small_plant: SimulatedPlant) -> None:
    for table, frame in small_plant.tables().items():
        assert pl.read_parquet(plant_exports("parquet") / f"{table.value}.parquet").equals(frame)


def test_truth_is_written_outside_the_exports(
    plant_exports: Exports, small_plant: SimulatedPlant
) -> None:
    folder = plant_exports("parquet")
    assert sorted(p.name for p in folder.iterdir()) == [
        "FALHAS.parquet",
        "RESULTADOS.parquet",
        "STATUS.parquet",
    ]
    truth = folder.parent / "truth"
    assert pl.read_parquet(truth / "truth.parquet").equals(small_plant.truth)
    described = json.loads((truth / "mechanisms.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in described["mechanisms"]] == list(MECHANISMS)
    assert all(m["effect"] for m in described["mechanisms"])
    assert described["drift_date"] == small_plant.drift_date.isoformat()


def test_summary_counts_what_was_written(tiny_plant: SimulatedPlant, tmp_path: Path) -> None:
    summary = write_exports(tiny_plant, tmp_path / "x", "csv", tmp_path / "t")
    payload = json.loads(json.dumps(summary.to_dict()))
    assert payload["rows"] == {t.value: f.height for t, f in tiny_plant.tables().items()}
    assert payload["csv_styles"]["RESULTADOS"]["separator"] == ";"
    for path in [*payload["files"], *payload["truth_files"]]:
        assert Path(path).is_file()
    lines = (tmp_path / "x" / "STATUS.csv").read_bytes().count(b"\n")
    assert lines == tiny_plant.status.height + 1


@pytest.mark.parametrize(
    ("fmt", "truth", "rows", "message"),
    [
        ("json", "t", 10, "unknown export format 'json'"),
        ("xlsx", "x/truth", 10, "inside the export folder"),
        ("xlsx", "x", 10, "inside the export folder"),
        ("xlsx", "t", 0, "max_rows_per_sheet must be between"),
    ],
)
def test_bad_export_requests_are_refused(
    tiny_plant: SimulatedPlant, tmp_path: Path, fmt: str, truth: str, rows: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_exports(tiny_plant, tmp_path / "x", fmt, tmp_path / truth, max_rows_per_sheet=rows)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()
