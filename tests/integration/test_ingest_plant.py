"""The simulated plant's exports, in every format, land in bronze completely and identically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from roadtest.contracts.partner import BRONZE_SCHEMAS, S_GROUPS, SourceTable
from roadtest.lake import Lake, ingest_paths
from roadtest.simulate import ExportFormat, SimulatedPlant

Exports = Callable[[ExportFormat], Path]


def sorted_partner_columns(frame: pl.DataFrame, table: SourceTable) -> pl.DataFrame:
    columns = list(BRONZE_SCHEMAS[table])
    return frame.select(columns).sort(columns, nulls_last=True)


@pytest.mark.slow
def test_xlsx_csv_and_parquet_exports_give_the_same_bronze(
    plant_exports: Exports, tmp_path: Path
) -> None:
    bronze: dict[str, dict[SourceTable, pl.DataFrame]] = {}
    for fmt in ("xlsx", "csv", "parquet"):
        lake = Lake(str(tmp_path / fmt))
        summary = ingest_paths(lake, [plant_exports(fmt)])
        assert summary.ok
        assert summary.totals["rows_quarantined"] == 0
        bronze[fmt] = {t: sorted_partner_columns(lake.read_bronze(t), t) for t in SourceTable}
    for table in SourceTable:
        assert bronze["xlsx"][table].equals(bronze["parquet"][table]), table
        assert bronze["csv"][table].equals(bronze["parquet"][table]), table


@pytest.mark.slow
def test_plant_exports_load_every_row_with_quirks_normalised(
    lake: Lake, plant_exports: Exports, small_plant: SimulatedPlant
) -> None:
    summary = ingest_paths(lake, [plant_exports("xlsx")])

    assert summary.ok
    rows_read = {f.table: f.rows_read for f in summary.files}
    assert rows_read == {t.value: frame.height for t, frame in small_plant.tables().items()}
    sheets = {f.table: f.sheets for f in summary.files}
    assert sheets["RESULTADOS"] == ("RESULTADOS", "RESULTADOS (2)")

    resultados = lake.read_bronze(SourceTable.RESULTADOS)
    expected = small_plant.resultados.select(
        pl.col("KNR").str.strip_chars(), "NAME", pl.col("DATA").cast(pl.Datetime("us"))
    )
    assert (
        resultados.select(expected.columns)
        .sort(expected.columns)
        .equals(expected.sort(expected.columns))
    )
    assert resultados.get_column("NAME").str.starts_with("0").any()

    falhas = lake.read_bronze(SourceTable.FALHAS)
    source = small_plant.falhas
    known = pl.col("S_GROUP_ID").str.strip_chars().is_in([str(g) for g in S_GROUPS])
    junk = source.filter(~known.fill_null(False))
    assert falhas.get_column("S_GROUP_ID").null_count() == junk.height
    flagged = falhas.filter(pl.col("_flags").str.contains("s_group_junk")).height
    assert flagged == junk.filter(pl.col("S_GROUP_ID").str.strip_chars() != "").height
    assert sorted(falhas.get_column("HALLE")) == sorted(
        source.get_column("HALLE").str.strip_chars().str.to_uppercase()
    )
    assert falhas.get_column("HALLE").str.contains(" ").sum() == 0

    status = lake.read_bronze(SourceTable.STATUS)
    assert status.height == small_plant.status.height
    assert status.get_column("STATUS").str.contains(r"^[A-Z]\d{3}$").all()

    again = ingest_paths(lake, [plant_exports("xlsx")])
    assert {f.outcome for f in again.files} == {"already_ingested"}
    assert lake.read_bronze(SourceTable.RESULTADOS).height == resultados.height
