"""`ingest_paths` end to end on hand-made files, on a local folder and on S3."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from roadtest.contracts.partner import PARTNER_COLUMNS, SourceTable
from roadtest.lake import Lake, ingest_paths

FIXED_NOW = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
RESULT_HEADER = list(PARTNER_COLUMNS[SourceTable.RESULTADOS])
FALHAS_HEADER = list(PARTNER_COLUMNS[SourceTable.FALHAS])


def result_row(knr: str, status: str = "10", value: str = "12,5") -> list[str]:
    return [knr, "012001", "2", status, "Nm", "1", value, "05/01/2024 06:12:33"]


def falha_row(knr: str, halle: str, falha: str, group: str) -> list[str]:
    return [knr, "T1", "2R2R", "DHS", "HCEQS506", "U1", halle, falha, group, "2024-01-05 09:00:00"]


def write_xlsx(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write_string(r, c, value)
    workbook.close()
    return path


def write_csv(path: Path, rows: list[list[str]], separator: str, encoding: str) -> Path:
    path.write_bytes("".join(separator.join(r) + "\n" for r in rows).encode(encoding))
    return path


def write_status_parquet(path: Path, knrs: list[str]) -> Path:
    n = len(knrs)
    frame = pl.DataFrame(
        {"KNR": knrs, "STATUS": ["M710"] * n, "DATA": [datetime(2024, 1, 5, 7)] * n}
    )
    frame.write_parquet(path)
    return path


class RecordingProgress:
    """Remembers the progress calls, to check ingestion reports what it does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int | None]] = []

    def start(self, step: str, total: int | None = None) -> None:
        self.calls.append(("start", step, total))

    def advance(self, step: str, amount: int = 1) -> None:
        self.calls.append(("advance", step, amount))

    def finish(self, step: str) -> None:
        self.calls.append(("finish", step, None))


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A folder with one export of each format and quirk, 9 data rows of which 2 invalid."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_xlsx(
        folder / "resultados.xlsx",
        {
            "Plan1": [
                ["Resultados de teste"],
                RESULT_HEADER,
                result_row("2023-0000001"),
                result_row("2023-0000001"),
            ],
            "Plan2": [RESULT_HEADER, result_row("2023-0000002", status="12")],
        },
    )
    falhas = [
        FALHAS_HEADER,
        falha_row("2023-0000001", "rod ", "Porta  riscada", "#MULTIVALUE"),
        falha_row("", "ZP5", "PORTA", "4"),
    ]
    write_csv(folder / "falhas.csv", falhas, ";", "latin-1")
    write_status_parquet(folder / "status.parquet", ["2023-0000001", "2023-0000002"])
    status_csv = [["KNR", "STATUS", "DATA"], ["2023-0000003", "m700", "2024-01-05 05:00:00"]]
    write_csv(folder / "status_extra.csv", status_csv, ",", "utf-8")
    return folder


def test_a_folder_of_exports_loads_every_row_somewhere(lake: Lake, exports: Path) -> None:
    summary = ingest_paths(lake, [exports], now=lambda: FIXED_NOW)

    assert summary.ok
    by_name = {f.name: f for f in summary.files}
    counts = {
        name: (f.table, f.rows_read, f.rows_bronze, f.rows_quarantined)
        for name, f in by_name.items()
    }
    assert counts == {
        "resultados.xlsx": ("RESULTADOS", 3, 2, 1),
        "falhas.csv": ("FALHAS", 2, 1, 1),
        "status.parquet": ("STATUS", 2, 2, 0),
        "status_extra.csv": ("STATUS", 1, 1, 0),
    }
    assert by_name["resultados.xlsx"].sheets == ("Plan1", "Plan2")
    assert summary.totals == {
        "files": 4,
        "loaded": 4,
        "already_ingested": 0,
        "rejected": 0,
        "rows_read": 8,
        "rows_bronze": 6,
        "rows_quarantined": 2,
    }

    resultados = lake.read_bronze(SourceTable.RESULTADOS)
    assert resultados.get_column("KNR").to_list() == ["2023-0000001", "2023-0000001"]
    assert resultados.get_column("NAME").to_list() == ["012001", "012001"]
    assert resultados.get_column("VALUE").to_list() == [12.5, 12.5]
    assert resultados.get_column("_sheet").to_list() == ["Plan1", "Plan1"]
    assert resultados.get_column("_ingested_at").to_list() == [FIXED_NOW, FIXED_NOW]

    falha = lake.read_bronze(SourceTable.FALHAS).row(0, named=True)
    assert (falha["HALLE"], falha["FALHA"], falha["S_GROUP_ID"]) == ("ROD", "PORTA RISCADA", None)
    assert falha["_flags"] == "trimmed,upper_cased,spaces_collapsed,s_group_junk"

    statuses = lake.read_bronze(SourceTable.STATUS).sort("KNR")
    assert statuses.get_column("STATUS").to_list() == ["M710", "M710", "M700"]

    quarantine = lake.read_quarantine().sort("table")
    assert quarantine.get_column("table").to_list() == ["FALHAS", "RESULTADOS"]
    assert quarantine.get_column("reason").to_list() == [
        "KNR is empty",
        "STATUS '12' is not a result status (10 OK, 13 NOK)",
    ]
    assert quarantine.get_column("_sheet").to_list() == [None, "Plan2"]


def test_manifest_and_raw_keep_every_file_exactly(lake: Lake, exports: Path) -> None:
    summary = ingest_paths(lake, [exports], now=lambda: FIXED_NOW)

    manifest = lake.read_manifest()
    assert manifest.height == 4
    assert set(manifest.get_column("outcome")) == {"loaded"}
    assert manifest.get_column("received_at").to_list() == [FIXED_NOW] * 4
    reconciled = manifest.select(
        (pl.col("rows_read") == pl.col("rows_bronze") + pl.col("rows_quarantined")).all()
    )
    assert reconciled.item()
    for outcome in summary.files:
        content = (exports / outcome.name).read_bytes()
        assert outcome.sha256 == hashlib.sha256(content).hexdigest()
        assert outcome.size == len(content)
        suffix = outcome.name.rsplit(".", 1)[1]
        assert lake.get_raw(f"raw/{outcome.sha256}.{suffix}") == content


def test_reingesting_is_a_no_op_that_says_so(lake: Lake, exports: Path) -> None:
    ingest_paths(lake, [exports])
    versions = {t: lake.bronze_version(t) for t in SourceTable}
    copy = exports / "renamed_copy.csv"
    copy.write_bytes((exports / "falhas.csv").read_bytes())

    again = ingest_paths(lake, [exports])

    assert again.ok
    assert {f.outcome for f in again.files} == {"already_ingested"}
    renamed = next(f for f in again.files if f.name == "renamed_copy.csv")
    assert renamed.reason is not None
    assert "as falhas.csv (1 rows loaded, 1 quarantined)" in renamed.reason
    assert again.totals["rows_read"] == 0
    assert {t: lake.bronze_version(t) for t in SourceTable} == versions
    assert lake.read_manifest().height == 4
    assert lake.read_bronze(SourceTable.FALHAS).height == 1


def test_falhas_without_s_group_column_loads_with_null_groups(lake: Lake, tmp_path: Path) -> None:
    header = [c for c in FALHAS_HEADER if c != "S_GROUP_ID"]
    row = falha_row("2023-0000001", "ZP5", "PORTA", "unused")
    del row[FALHAS_HEADER.index("S_GROUP_ID")]
    path = write_csv(tmp_path / "falhas_old.csv", [header, row], ",", "utf-8")

    summary = ingest_paths(lake, [path])

    assert summary.files[0].rows_bronze == 1
    falha = lake.read_bronze(SourceTable.FALHAS).row(0, named=True)
    assert (falha["S_GROUP_ID"], falha["_flags"]) == (None, "s_group_missing_column")


def test_the_same_file_twice_in_one_call_loads_once(lake: Lake, exports: Path) -> None:
    path = exports / "status_extra.csv"
    summary = ingest_paths(lake, [path, path])
    assert [f.outcome for f in summary.files] == ["loaded", "already_ingested"]
    assert lake.read_bronze(SourceTable.STATUS).height == 1


def test_unreadable_files_are_rejected_and_the_others_still_load(
    lake: Lake, tmp_path: Path
) -> None:
    good = write_status_parquet(tmp_path / "status.parquet", ["2023-0000009"])
    corrupt = tmp_path / "broken.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 truncated zip")
    unknown = write_csv(tmp_path / "other.csv", [["A", "B"], ["1", "2"]], ";", "utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    summary = ingest_paths(lake, [corrupt, good, unknown, empty])

    assert not summary.ok
    outcomes = {f.name: (f.outcome, f.reason or "") for f in summary.files}
    assert outcomes["status.parquet"] == ("loaded", "")
    assert outcomes["broken.xlsx"][0] == "rejected"
    assert "could not be opened as an Excel workbook" in outcomes["broken.xlsx"][1]
    assert outcomes["other.csv"][0] == "rejected"
    assert "no header row with the columns of a known export" in outcomes["other.csv"][1]
    assert outcomes["empty.csv"] == ("rejected", "empty.csv is empty.")
    assert lake.read_bronze(SourceTable.STATUS).get_column("KNR").to_list() == ["2023-0000009"]
    manifest = lake.read_manifest().sort("file_name")
    assert manifest.get_column("outcome").to_list() == ["rejected"] * 3 + ["loaded"]
    broken = next(f for f in summary.files if f.name == "broken.xlsx")
    assert lake.get_raw(f"raw/{broken.sha256}.xlsx") == corrupt.read_bytes()

    again = ingest_paths(lake, [corrupt])
    assert again.files[0].outcome == "already_ingested"
    assert "rejected: broken.xlsx could not be opened" in (again.files[0].reason or "")


def test_missing_path_is_refused_before_anything_is_written(lake: Lake, tmp_path: Path) -> None:
    good = write_status_parquet(tmp_path / "status.parquet", ["2023-0000009"])
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        ingest_paths(lake, [good, tmp_path / "nope.csv"])
    assert lake.read_manifest().height == 0


def test_folders_skip_hidden_and_unsupported_files(lake: Lake, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    write_status_parquet(folder / "sub" / "a.parquet", ["2023-0000001"])
    write_status_parquet(folder / ".hidden" / "b.parquet", ["2023-0000002"])
    (folder / "notes.md").write_text("not an export")
    summary = ingest_paths(lake, [folder])
    assert [f.name for f in summary.files] == ["a.parquet"]


def test_progress_reports_rows_per_file(lake: Lake, exports: Path) -> None:
    progress = RecordingProgress()
    ingest_paths(lake, [exports / "resultados.xlsx"], progress=progress)
    assert progress.calls == [
        ("start", "resultados.xlsx", 3),
        ("advance", "resultados.xlsx", 2),
        ("advance", "resultados.xlsx", 1),
        ("finish", "resultados.xlsx", None),
    ]


def test_summary_serialises_for_the_cli(lake: Lake, exports: Path) -> None:
    summary = ingest_paths(lake, [exports / "resultados.xlsx"])
    data = summary.to_dict()
    assert data["ok"] is True
    assert data["totals"]["rows_read"] == 3
    assert data["files"][0]["sheets"] == ["Plan1", "Plan2"]
    assert set(data["files"][0]) == {
        "name",
        "sha256",
        "size",
        "table",
        "outcome",
        "rows_read",
        "rows_bronze",
        "rows_quarantined",
        "reason",
        "sheets",
    }
    assert json.loads(json.dumps(data)) == data
