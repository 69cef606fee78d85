"""The lake: raw files, bronze Delta tables, quarantine and manifest under one root.

Layout under the lake root (a folder or ``s3://bucket/prefix``)::

    raw/<sha256>.<ext>    every received file, exact bytes, content-addressed
    bronze/<TABLE>        one Delta table per partner export, typed, with lineage
    quarantine            one Delta table of rejected rows (column ``table``)
    manifest              one Delta table, one final row per ingested file

Delta gives each append an atomic commit and a table version, which the ETL
records as dataset lineage. The write order that makes ingestion atomic per
file is described in ``roadtest.lake.ingest``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import polars as pl
from deltalake import DeltaTable, write_deltalake

from roadtest.contracts.partner import QUARANTINE_SCHEMA, SourceTable, bronze_schema
from roadtest.lake.storage import BlobStore, LakeLocation, parse_lake_uri

if TYPE_CHECKING:
    from roadtest.config import Settings

QUARANTINE: Final = "quarantine"
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
MANIFEST: Final = "manifest"

MANIFEST_SCHEMA: Final[dict[str, pl.DataType]] = {
    "file_hash": pl.String(),  # sha256 of the bytes, name of the file in raw/
    "file_name": pl.String(),  # name as received
    "size_bytes": pl.Int64(),
    "table": pl.String(),  # RESULTADOS / FALHAS / STATUS, null when not recognised
    "sheets": pl.List(pl.String()),  # sheets that held data (xlsx), empty otherwise
    "received_at": pl.Datetime("us", "UTC"),
    "rows_read": pl.Int64(),
    "rows_bronze": pl.Int64(),
    "rows_quarantined": pl.Int64(),
    "outcome": pl.String(),  # loaded / rejected
    "reason": pl.String(),  # why a file was rejected, null when loaded
}
"""One row per file whose ingestion finished; a file without a row here is not done."""


class LakeSchemaError(ValueError):
    """A frame does not have the schema of the table it is written to."""


def _conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Columns in contract order and types, whatever order the storage returned them in."""
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def check_schema(frame: pl.DataFrame, schema: Mapping[str, pl.DataType], what: str) -> None:
    """Refuse frames whose columns or types differ from the contract, naming each difference."""
    problems: list[str] = []
    missing = [name for name in schema if name not in frame.schema]
    extra = [name for name in frame.schema if name not in schema]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    for name, dtype in schema.items():
        actual = frame.schema.get(name)
        if actual is not None and actual != dtype:
            problems.append(f"column {name!r} is {actual}, expected {dtype}")
    if problems:
        raise LakeSchemaError(f"Rows for {what} do not match its schema: " + "; ".join(problems))


class Lake:
    """Read and write access to one lake root (local folder or S3 prefix)."""

    def __init__(self, uri: str, storage_options: Mapping[str, str] | None = None) -> None:
        self._location: LakeLocation = parse_lake_uri(uri, storage_options)
        self._blobs: BlobStore = self._location.blob_store()

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The lake the settings point to, with S3 credentials when it lives on S3."""
        uri = settings.resolved_lake_uri()
        options = settings.s3_storage_options() if uri.startswith("s3://") else None
        return cls(uri, options)

    def __repr__(self) -> str:
        return f"Lake({self._location.root_uri!r})"

    @property
    def uri(self) -> str:
        """The lake root."""
        return self._location.root_uri

    @property
    def storage_options(self) -> dict[str, str]:
        """Options engines need to open the lake's Delta tables themselves."""
        return dict(self._location.storage_options)

    def table_uri(self, name: str) -> str:
        """URI of a Delta table: a ``SourceTable`` name (bronze), ``quarantine`` or ``manifest``."""
        if name in (QUARANTINE, MANIFEST):
            return self._location.child_uri(name)
        if name in SourceTable.__members__:
            return self._location.child_uri(f"bronze/{SourceTable(name).value}")
        raise ValueError(
            f"Unknown lake table {name!r}; expected one of "
            f"{[t.value for t in SourceTable]}, {QUARANTINE!r} or {MANIFEST!r}."
        )

    # --- generic Delta access ------------------------------------------------

    def _open(self, name: str, version: int | None = None) -> DeltaTable | None:
        uri = self.table_uri(name)
        if not DeltaTable.is_deltatable(uri, storage_options=self.storage_options):
            return None
        return DeltaTable(uri, version=version, storage_options=self.storage_options)

    def _version(self, name: str) -> int | None:
        table = self._open(name)
        return None if table is None else table.version()

    def _read(
        self,
        name: str,
        schema: Mapping[str, pl.DataType],
        version: int | None = None,
        columns: list[str] | None = None,
    ) -> pl.DataFrame:
        wanted = {c: schema[c] for c in columns} if columns else dict(schema)
        table = self._open(name, version)
        if table is None:
            if version is not None:
                raise ValueError(
                    f"Lake table {name!r} does not exist, so it has no version {version}."
                )
            return pl.DataFrame(schema=wanted)
        frame = pl.from_arrow(table.to_pyarrow_table(columns=list(wanted)))
        assert isinstance(frame, pl.DataFrame)
        return _conform(frame, wanted)

    def _append(self, name: str, rows: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> int:
        check_schema(rows, schema, f"lake table {name!r}")
        write_deltalake(
            self.table_uri(name),
            _conform(rows, schema).to_arrow(),
            mode="append",
            storage_options=self.storage_options,
        )
        version = self._version(name)
        assert version is not None
        return version

    def _delete_file_rows(self, name: str, file_hash: str) -> int:
        if not _SHA256.fullmatch(file_hash):
            raise ValueError(f"{file_hash!r} is not a sha256 file hash.")
        table = self._open(name)
        if table is None:
            return 0
        result = table.delete(f"_file_hash = '{file_hash}'")
        return int(result.get("num_deleted_rows", 0))

    # --- bronze ---------------------------------------------------------------

    def bronze_version(self, table: SourceTable) -> int | None:
        """Current Delta version of a bronze table, None when nothing was ever loaded."""
        return self._version(table.value)

    def read_bronze(self, table: SourceTable, version: int | None = None) -> pl.DataFrame:
        """All rows of a bronze table (at ``version``), typed per the partner contract."""
        return self._read(table.value, bronze_schema(table), version)

    def bronze_file_hashes(self, table: SourceTable, version: int | None = None) -> set[str]:
        """Hashes of the raw files whose rows a bronze version holds.

        The ETL compares this with the set at the version it last consumed to find
        new files without re-reading everything.
        """
        frame = self._read(table.value, bronze_schema(table), version, columns=["_file_hash"])
        return set(frame.get_column("_file_hash").unique().drop_nulls().to_list())

    def append_bronze(self, table: SourceTable, rows: pl.DataFrame) -> int:
        """Append typed rows in one atomic commit; returns the new table version."""
        return self._append(table.value, rows, bronze_schema(table))

    # --- quarantine and manifest ----------------------------------------------

    def read_quarantine(self) -> pl.DataFrame:
        """Every rejected row with its table, reason and raw values."""
        return self._read(QUARANTINE, QUARANTINE_SCHEMA)

    def append_quarantine(self, rows: pl.DataFrame) -> int:
        """Append rejected rows in one commit; returns the new table version."""
        return self._append(QUARANTINE, rows, QUARANTINE_SCHEMA)

    def read_manifest(self) -> pl.DataFrame:
        """One row per file whose ingestion finished (loaded or rejected)."""
        return self._read(MANIFEST, MANIFEST_SCHEMA)

    def append_manifest(self, rows: pl.DataFrame) -> int:
        """Record finished files; this commit is what marks a file as done."""
        return self._append(MANIFEST, rows, MANIFEST_SCHEMA)

    def discard_file_rows(self, file_hash: str) -> int:
        """Delete bronze and quarantine rows of an unfinished file, so it can be redone whole."""
        names = [QUARANTINE, *(t.value for t in SourceTable)]
        return sum(self._delete_file_rows(name, file_hash) for name in names)

    # --- raw files --------------------------------------------------------------

    def has_raw(self, key: str) -> bool:
        """Whether a raw file is stored under ``key`` (``raw/<sha256>.<ext>``)."""
        return self._blobs.exists(key)

    def put_raw(self, key: str, data: bytes) -> None:
        """Store a received file's exact bytes."""
        self._blobs.put_bytes(key, data)

    def get_raw(self, key: str) -> bytes:
        """The exact bytes of a stored raw file."""
        return self._blobs.get_bytes(key)
