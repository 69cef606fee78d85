"""The Lake's table API behaves the same on a local folder and on S3."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from roadtest.config import Settings
from roadtest.contracts.partner import QUARANTINE_SCHEMA, SourceTable, bronze_schema
from roadtest.lake import MANIFEST_SCHEMA, Lake, LakeSchemaError

HASH_A = "a" * 64
HASH_B = "b" * 64


def status_rows(file_hash: str, knrs: list[str]) -> pl.DataFrame:
    """Bronze STATUS rows as another part of roadtest would write them in its tests."""
    n = len(knrs)
    return pl.DataFrame(
        {
            "KNR": knrs,
            "STATUS": ["M710"] * n,
            "DATA": [datetime(2024, 1, 5, 6, 12, 33)] * n,
            "_file_hash": [file_hash] * n,
            "_source_file": ["status.csv"] * n,
            "_sheet": [None] * n,
            "_row_number": list(range(1, n + 1)),
            "_ingested_at": [datetime(2024, 2, 1, tzinfo=UTC)] * n,
            "_flags": [""] * n,
        },
        schema=bronze_schema(SourceTable.STATUS),
    )


def test_missing_tables_read_as_empty_frames_with_the_contract_schema(lake: Lake) -> None:
    for table in SourceTable:
        assert lake.bronze_version(table) is None
        frame = lake.read_bronze(table)
        assert frame.height == 0
        assert frame.schema == bronze_schema(table)
        assert lake.bronze_file_hashes(table) == set()
    assert lake.read_quarantine().schema == pl.Schema(QUARANTINE_SCHEMA)
    assert lake.read_manifest().schema == pl.Schema(MANIFEST_SCHEMA)


def test_append_bronze_returns_versions_and_old_versions_stay_readable(lake: Lake) -> None:
    first = lake.append_bronze(SourceTable.STATUS, status_rows(HASH_A, ["2023-0000001"]))
    second = lake.append_bronze(
        SourceTable.STATUS, status_rows(HASH_B, ["2023-0000002", "2023-0000003"])
    )

    assert (first, second) == (0, 1)
    assert lake.bronze_version(SourceTable.STATUS) == 1
    assert lake.read_bronze(SourceTable.STATUS, version=0).get_column("KNR").to_list() == [
        "2023-0000001"
    ]
    assert lake.read_bronze(SourceTable.STATUS).height == 3
    assert lake.read_bronze(SourceTable.STATUS).schema == bronze_schema(SourceTable.STATUS)
    assert lake.bronze_file_hashes(SourceTable.STATUS, version=0) == {HASH_A}
    assert lake.bronze_file_hashes(SourceTable.STATUS) == {HASH_A, HASH_B}


def test_append_bronze_accepts_columns_in_any_order(lake: Lake) -> None:
    rows = status_rows(HASH_A, ["2023-0000001"])
    lake.append_bronze(SourceTable.STATUS, rows.select(reversed(rows.columns)))
    assert lake.read_bronze(SourceTable.STATUS).equals(rows)


def test_append_bronze_refuses_rows_of_another_schema(lake: Lake) -> None:
    rows = status_rows(HASH_A, ["2023-0000001"])
    with pytest.raises(LakeSchemaError, match="missing columns \\['_flags'\\]"):
        lake.append_bronze(SourceTable.STATUS, rows.drop("_flags"))
    with pytest.raises(LakeSchemaError, match="'_row_number' is Int32"):
        lake.append_bronze(
            SourceTable.STATUS, rows.with_columns(pl.col("_row_number").cast(pl.Int32))
        )
    assert lake.bronze_version(SourceTable.STATUS) is None


def test_discard_file_rows_removes_only_that_files_rows(lake: Lake) -> None:
    lake.append_bronze(SourceTable.STATUS, status_rows(HASH_A, ["2023-0000001"]))
    lake.append_bronze(SourceTable.STATUS, status_rows(HASH_B, ["2023-0000002"]))

    assert lake.discard_file_rows(HASH_A) == 1
    assert lake.bronze_file_hashes(SourceTable.STATUS) == {HASH_B}
    assert lake.discard_file_rows(HASH_A) == 0


def test_raw_files_round_trip_exact_bytes(lake: Lake) -> None:
    payload = bytes(range(256)) * 10
    assert not lake.has_raw("raw/x.bin")
    lake.put_raw("raw/x.bin", payload)
    assert lake.has_raw("raw/x.bin")
    assert lake.get_raw("raw/x.bin") == payload


def test_table_uri_names_bronze_quarantine_and_manifest(lake: Lake) -> None:
    assert lake.table_uri("RESULTADOS") == f"{lake.uri}/bronze/RESULTADOS"
    assert lake.table_uri(SourceTable.FALHAS) == f"{lake.uri}/bronze/FALHAS"
    assert lake.table_uri("manifest") == f"{lake.uri}/manifest"
    with pytest.raises(ValueError, match="Unknown lake table 'silver'"):
        lake.table_uri("silver")


def test_from_settings_uses_the_s3_credentials(s3_settings: Settings) -> None:
    lake = Lake.from_settings(s3_settings)
    assert lake.uri == s3_settings.lake_uri
    assert lake.storage_options["AWS_ENDPOINT_URL"] == s3_settings.s3_endpoint_url
    lake.append_bronze(SourceTable.STATUS, status_rows(HASH_A, ["2023-0000001"]))
    assert lake.read_bronze(SourceTable.STATUS).height == 1


def test_from_settings_defaults_to_a_folder_under_home(tmp_path: Path) -> None:
    lake = Lake.from_settings(Settings(home=tmp_path, lake_uri=None))
    assert lake.uri == str(tmp_path / "lake")
    assert lake.storage_options == {}


def test_unsupported_uri_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="neither a folder nor s3://"):
        Lake("gs://bucket/lake")
