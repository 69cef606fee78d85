"""Ingest received partner files into the lake: raw bytes, bronze rows, quarantine, manifest.

Atomicity and idempotency, per file (identified by the sha256 of its bytes):

1. ``raw/<sha256>.<ext>`` is written (content-addressed, exact bytes, atomic put);
2. quarantined rows are appended to ``quarantine`` (one Delta commit);
3. valid rows are appended to ``bronze/<TABLE>`` (one Delta commit);
4. a row is appended to ``manifest`` (one Delta commit). Only this row makes the
   file *done*: a file whose hash has a manifest row (loaded or rejected) is
   never ingested again, and saying so is the whole effect of re-ingesting it.

A process killed anywhere in this sequence leaves each Delta table at a
committed version (no half-written rows). When the same file is ingested
again and its raw bytes are already stored but no manifest row exists, the
earlier attempt was interrupted: its rows are deleted from bronze and
quarantine (matched by ``_file_hash``) and the file is redone whole, so a
rerun yields exactly one copy of every row. The lake assumes one ingesting
process at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl

from roadtest.contracts.partner import QUARANTINE_SCHEMA, bronze_schema
from roadtest.lake.readers import (
    ROW_NUMBER,
    SUPPORTED_EXTENSIONS,
    RawSheet,
    UnreadableFileError,
    read_sheets,
)
from roadtest.lake.store import MANIFEST_SCHEMA, Lake
from roadtest.lake.validate import validate_rows
from roadtest.progress import NO_PROGRESS, Progress

Outcome = Literal["loaded", "already_ingested", "rejected"]

VALIDATION_CHUNK_ROWS: Final = 250_000
"""Rows validated per step, so progress bars move on long files."""


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    name: str
    sha256: str
    size: int
    table: str | None
    outcome: Outcome
    rows_read: int = 0
    rows_bronze: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    sheets: tuple[str, ...] = ()


@dataclass(frozen=True)
class IngestSummary:
    """Outcome of one ingestion call, file by file, with totals."""

    files: tuple[FileOutcome, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when no file was rejected."""
        return all(f.outcome != "rejected" for f in self.files)

    @property
    def totals(self) -> dict[str, int]:
        """Files per outcome and rows read / loaded / quarantined over all files."""
        counts: dict[str, int] = {
            "files": len(self.files),
            "loaded": 0,
            "already_ingested": 0,
            "rejected": 0,
        }
        for outcome in self.files:
            counts[outcome.outcome] += 1
        counts["rows_read"] = sum(f.rows_read for f in self.files)
        counts["rows_bronze"] = sum(f.rows_bronze for f in self.files)
        counts["rows_quarantined"] = sum(f.rows_quarantined for f in self.files)
        return counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for ``roadtest ingest --json``."""
        return {
            "ok": self.ok,
            "totals": self.totals,
            "files": [{**asdict(f), "sheets": list(f.sheets)} for f in self.files],
        }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files named directly, plus files with a supported extension found in named folders.

    A missing path is an error before anything is written: it is a typo, not data.
    """
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"No such file or folder: {', '.join(missing)}")
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in SUPPORTED_EXTENSIONS
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            files.append(path)
    return files


def raw_key(file_hash: str, name: str) -> str:
    """Content-addressed location of a received file, keeping its extension for humans."""
    suffix = Path(name).suffix.lower().lstrip(".")
    return f"raw/{file_hash}.{suffix or 'bin'}"


def ingest_paths(
    lake: Lake,
    paths: Sequence[Path],
    progress: Progress = NO_PROGRESS,
    now: Callable[[], datetime] = _utc_now,
) -> IngestSummary:
    """Ingest files and folders into the lake; one outcome per file, nothing lost."""
    files = expand_paths(paths)
    finished = {row["file_hash"]: row for row in lake.read_manifest().iter_rows(named=True)}
    outcomes: list[FileOutcome] = []
    for path in files:
        data = path.read_bytes()
        file_hash = hashlib.sha256(data).hexdigest()
        if file_hash in finished:
            outcomes.append(_already_ingested(path.name, file_hash, len(data), finished[file_hash]))
            continue
        record = _ingest_file(lake, path.name, data, file_hash, progress, now())
        finished[file_hash] = record
        outcomes.append(_outcome_of(record))
    return IngestSummary(tuple(outcomes))


def _ingest_file(
    lake: Lake,
    name: str,
    data: bytes,
    file_hash: str,
    progress: Progress,
    received_at: datetime,
) -> dict[str, Any]:
    """Ingest one file not yet done (write order in the module docstring); its manifest row."""
    key = raw_key(file_hash, name)
    if lake.has_raw(key):
        lake.discard_file_rows(file_hash)
    else:
        lake.put_raw(key, data)
    record: dict[str, Any] = {
        "file_hash": file_hash,
        "file_name": name,
        "size_bytes": len(data),
        "table": None,
        "sheets": [],
        "received_at": received_at,
        "rows_read": 0,
        "rows_bronze": 0,
        "rows_quarantined": 0,
        "outcome": "rejected",
        "reason": None,
    }
    try:
        sheets = read_sheets(name, data)
    except UnreadableFileError as error:
        record["reason"] = str(error)
        lake.append_manifest(pl.DataFrame([record], schema=MANIFEST_SCHEMA))
        return record
    table = sheets[0].table
    bronze, quarantine = _validate_sheets(sheets, name, file_hash, received_at, progress)
    if quarantine.height:
        lake.append_quarantine(quarantine)
    if bronze.height:
        lake.append_bronze(table, bronze)
    record |= {
        "table": table.value,
        "sheets": [s.sheet for s in sheets if s.sheet is not None and s.cells.height],
        "rows_read": sum(s.cells.height for s in sheets),
        "rows_bronze": bronze.height,
        "rows_quarantined": quarantine.height,
        "outcome": "loaded",
    }
    lake.append_manifest(pl.DataFrame([record], schema=MANIFEST_SCHEMA))
    progress.finish(name)
    return record


def _outcome_of(record: dict[str, Any]) -> FileOutcome:
    return FileOutcome(
        name=record["file_name"],
        sha256=record["file_hash"],
        size=record["size_bytes"],
        table=record["table"],
        outcome=record["outcome"],
        rows_read=record["rows_read"],
        rows_bronze=record["rows_bronze"],
        rows_quarantined=record["rows_quarantined"],
        reason=record["reason"],
        sheets=tuple(record["sheets"]),
    )


def _already_ingested(name: str, file_hash: str, size: int, record: dict[str, Any]) -> FileOutcome:
    """A file whose bytes were ingested before: nothing to do, and the reason says when."""
    when = record["received_at"].strftime("%Y-%m-%d %H:%M UTC")
    if record["outcome"] == "rejected":
        reason = (
            f"already received on {when} as {record['file_name']} and rejected: {record['reason']}"
        )
    else:
        reason = (
            f"already ingested on {when} as {record['file_name']} "
            f"({record['rows_bronze']} rows loaded, {record['rows_quarantined']} quarantined)"
        )
    return FileOutcome(name, file_hash, size, record["table"], "already_ingested", reason=reason)


def _validate_sheets(
    sheets: list[RawSheet],
    name: str,
    file_hash: str,
    received_at: datetime,
    progress: Progress,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate every sheet in chunks, reporting rows done as progress."""
    progress.start(name, total=sum(s.cells.height for s in sheets))
    bronze_parts: list[pl.DataFrame] = []
    quarantine_parts: list[pl.DataFrame] = []
    for sheet, chunk in _chunks(sheets):
        lineage = chunk.with_columns(
            pl.lit(file_hash).alias("_file_hash"),
            pl.lit(name).alias("_source_file"),
            pl.lit(sheet, pl.String()).alias("_sheet"),
            pl.col(ROW_NUMBER).alias("_row_number"),
            pl.lit(received_at, pl.Datetime("us", "UTC")).alias("_ingested_at"),
        )
        valid, rejected = validate_rows(lineage, sheets[0].table)
        bronze_parts.append(valid)
        quarantine_parts.append(rejected)
        progress.advance(name, chunk.height)
    table = sheets[0].table
    bronze = pl.concat(bronze_parts) if bronze_parts else pl.DataFrame(schema=bronze_schema(table))
    quarantine = (
        pl.concat(quarantine_parts) if quarantine_parts else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
    return bronze, quarantine


def _chunks(sheets: list[RawSheet]) -> Iterator[tuple[str | None, pl.DataFrame]]:
    for sheet in sheets:
        for offset in range(0, sheet.cells.height, VALIDATION_CHUNK_ROWS):
            yield sheet.sheet, sheet.cells.slice(offset, VALIDATION_CHUNK_ROWS)
