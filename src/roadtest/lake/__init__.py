"""The data lake: raw files as received, typed bronze Delta tables, quarantine, manifest."""

from roadtest.lake.ingest import FileOutcome, IngestSummary, ingest_paths
from roadtest.lake.readers import UnreadableFileError
from roadtest.lake.store import MANIFEST_SCHEMA, Lake, LakeSchemaError
from roadtest.lake.validate import validate_rows

__all__ = [
    "MANIFEST_SCHEMA",
    "FileOutcome",
    "IngestSummary",
    "Lake",
    "LakeSchemaError",
    "UnreadableFileError",
    "ingest_paths",
    "validate_rows",
]
