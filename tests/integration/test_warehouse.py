"""Warehouse migrations, frame round trips and transactional rebuilds, on DuckDB and PostgreSQL.

Every test that takes ``warehouse`` or ``warehouse_url`` runs once per backend,
so passing on both means the same code gives the same frames on both.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from roadtest.config import Settings
from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, TRANSFORM_TABLES, Column, TableSpec
from roadtest.warehouse import (
    PLATFORM_TABLES,
    WAREHOUSE_TABLES,
    FrameContractError,
    Warehouse,
    WarehouseError,
    WarehouseSchemaError,
    connect,
)
from roadtest.warehouse.backends import FEW_ROWS, frame_io
from roadtest.warehouse.packed_events import pack_events
from roadtest.warehouse.schema import PREDICTIONS, VEHICLE_EVENT_BATCHES, sql_table

KNRS = ["2023-0000001", "2023-0000002", "2023-0000003"]
TRICKY_TEXT = ["plain", "", 'with "quotes", commas;\nand a newline', "  spaced  ", "ÇÃO ß 日本"]


def sample_value(column: Column, row: int, knr: str) -> object:
    """A valid value of ``column`` for row ``row``; distinct per row so keys stay unique."""
    dtype = column.dtype
    if column.name == "knr":
        return knr
    if column.nullable and row % 4 == 3:
        return None
    if dtype == pl.String:
        return f"{TRICKY_TEXT[row % len(TRICKY_TEXT)]}#{row}"
    if dtype == pl.Boolean:
        return row % 2 == 0
    if dtype.is_integer():
        return row * 7 - 3
    if dtype.is_float():
        return (row - 1.5) / 3.0
    if dtype == pl.Date:
        return dt.date(2023, 12, 30) + dt.timedelta(days=row)
    if dtype == pl.Binary:
        return f"{TRICKY_TEXT[row % len(TRICKY_TEXT)]}#{row}".encode() + bytes([0, 92, 120, 255])
    assert isinstance(dtype, pl.Datetime)
    moment = dt.datetime(2024, 2, 28, 23, 59, 59, 999_999) + dt.timedelta(
        hours=row, microseconds=row
    )
    return moment.replace(tzinfo=dt.UTC) if dtype.time_zone else moment


def sample_frame(spec: TableSpec, rows: int = 6, knrs: list[str] = KNRS) -> pl.DataFrame:
    """Rows fitting ``spec`` with every type exercised, nulls where allowed, keys unique."""
    if spec.primary_key == ("knr",):
        rows = min(rows, len(knrs))
    data = [
        {c.name: sample_value(c, i, knrs[i % len(knrs)]) for c in spec.columns} for i in range(rows)
    ]
    return pl.DataFrame(data, schema=spec.schema(), orient="row").sort(spec.primary_key)


def load_everything(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """Fill every table with sample rows; returns what was written, by table.

    The packed event copies are written by ``replace_vehicles`` with the events (on
    PostgreSQL, the one backend that keeps them).
    """
    appended = [spec for spec in PLATFORM_TABLES if spec is not VEHICLE_EVENT_BATCHES]
    written = {spec.name: sample_frame(spec) for spec in (*TRANSFORM_TABLES, *appended)}
    warehouse.replace_vehicles({s.name: written[s.name] for s in TRANSFORM_TABLES}, KNRS)
    with warehouse.transaction() as tx:
        for spec in appended:
            tx.append_rows(spec.name, written[spec.name])
    packed = pack_events(written[MART_VEHICLE_EVENTS.name])
    written[VEHICLE_EVENT_BATCHES.name] = (
        packed if warehouse.backend == "postgresql" else packed.clear()
    )
    return written


def snapshot(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """The content of every table."""
    return {name: warehouse.read_table(name) for name in WAREHOUSE_TABLES}


def assert_same_content(before: dict[str, pl.DataFrame], after: dict[str, pl.DataFrame]) -> None:
    assert before.keys() == after.keys()
    for name, frame in before.items():
        assert_frame_equal(after[name], frame, check_exact=True)


def test_migrate_creates_every_table_once_and_then_does_nothing(warehouse_url: str) -> None:
    warehouse = connect(warehouse_url)
    try:
        assert warehouse.schema_version() == 0
        assert warehouse.migrate() == [1, 2, 3, 4]
        assert warehouse.schema_version() == 4
        assert warehouse.migrate() == []
        ledger = warehouse.read_table("schema_migrations")
        assert ledger["version"].to_list() == [1, 2, 3, 4]
        for name, spec in WAREHOUSE_TABLES.items():
            assert warehouse.read_table(name).schema == spec.schema()
    finally:
        warehouse.dispose()


def test_a_warehouse_at_version_2_gains_the_later_tables(warehouse: Warehouse) -> None:
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE training_runs")
        conn.exec_driver_sql("DROP TABLE vehicle_event_batches")
        conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version >= 3")
    assert warehouse.schema_version() == 2
    assert warehouse.migrate() == [3, 4]
    assert warehouse.read_table("training_runs").is_empty()
    assert warehouse.read_table("vehicle_event_batches").is_empty()


def test_migrate_reports_a_table_the_database_lacks_columns_of(warehouse: Warehouse) -> None:
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql('ALTER TABLE dq_check DROP COLUMN "message"')
    with pytest.raises(WarehouseSchemaError, match=r"dq_check lacks column\(s\) message"):
        warehouse.migrate()


def test_every_table_round_trips_to_equal_frames(warehouse: Warehouse) -> None:
    written = load_everything(warehouse)
    for name, frame in written.items():
        assert_frame_equal(warehouse.read_table(name), frame, check_exact=True)


def test_awkward_values_survive_the_bulk_paths(warehouse: Warehouse) -> None:
    spec = TableSpec(
        name="awkward",
        description="every storable type with its edge values",
        columns=(
            Column("k", pl.Int64(), "key", nullable=False),
            Column("s", pl.String(), "text"),
            Column("i8", pl.Int8(), "tiny"),
            Column("i32", pl.Int32(), "int"),
            Column("i64", pl.Int64(), "big"),
            Column("u16", pl.UInt16(), "unsigned"),
            Column("f32", pl.Float32(), "single"),
            Column("f64", pl.Float64(), "double"),
            Column("b", pl.Boolean(), "flag"),
            Column("d", pl.Date(), "day"),
            Column("ts", pl.Datetime("us"), "plant time"),
            Column("utc", pl.Datetime("us", "UTC"), "instant"),
            Column("raw", pl.Binary(), "bytes"),
        ),
        primary_key=("k",),
        vehicle_scoped=False,
    )
    frame = pl.DataFrame(
        {
            "k": [1, 2, 3, 4, 5],
            "s": ["", None, 'a "b", c\nd', "\\N", "null"],
            "i8": [-128, 127, None, 0, 1],
            "i32": [-(2**31), 2**31 - 1, None, 0, 1],
            "i64": [-(2**63), 2**63 - 1, None, 0, 1],
            "u16": [0, 65535, None, 1, 2],
            "f32": [1.1, -0.0, None, float("inf"), 3.4e38],
            "f64": [0.1 + 0.2, float("nan"), None, float("-inf"), 5e-324],
            "b": [True, False, None, True, False],
            "d": [dt.date(1970, 1, 1), dt.date(2099, 12, 31), None, dt.date(2024, 2, 29), None],
            "ts": [
                dt.datetime(2024, 3, 31, 2, 30, 0, 1),
                None,
                dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
                None,
                None,
            ],
            "utc": [dt.datetime(2024, 10, 27, 1, 30, tzinfo=dt.UTC), None, None, None, None],
            "raw": [b"", None, b'\x00\\x,"\n', bytes(range(256)), b"\\N"],
        },
        schema=spec.schema(),
    )
    io = frame_io(warehouse.backend)
    with warehouse.engine.begin() as conn:
        sql_table(spec, sa.MetaData()).create(conn)
        io.insert(conn, spec.name, frame)
        back = io.query(conn, 'SELECT * FROM "awkward" ORDER BY "k"', spec.schema())
        bound = io.query(
            conn,
            f'SELECT * FROM "awkward" WHERE "k" = ANY({io.parameter}) ORDER BY "k"',
            spec.schema(),
            ([1, 2, 3, 4, 5],),
        )
    assert_frame_equal(back, frame, check_exact=True)
    assert_frame_equal(bound, frame, check_exact=True)
    assert math.isnan(back["f64"][1])
    assert math.isnan(bound["f64"][1])


def test_replace_vehicles_rebuilds_only_the_given_vehicles(warehouse: Warehouse) -> None:
    written = load_everything(warehouse)
    target = KNRS[0]
    spec = WAREHOUSE_TABLES["fact_defect"]
    new_rows = sample_frame(spec, rows=1, knrs=[target]).with_columns(
        pl.lit("CORRECTED").alias("falha")
    )

    counts = warehouse.replace_vehicles({"fact_defect": new_rows}, [target])

    assert counts == {"fact_defect": 1}
    expected = pl.concat([written["fact_defect"].filter(pl.col("knr") != target), new_rows])
    assert_frame_equal(warehouse.read_table("fact_defect"), expected.sort(spec.primary_key))
    assert_frame_equal(warehouse.read_table("fact_test_result"), written["fact_test_result"])


def test_replace_vehicles_with_no_rows_removes_the_vehicles(warehouse: Warehouse) -> None:
    written = load_everything(warehouse)
    empty = pl.DataFrame(schema=WAREHOUSE_TABLES["vehicle_label"].schema())

    warehouse.replace_vehicles({"vehicle_label": empty}, [KNRS[1]])

    remaining = warehouse.read_labels()
    assert KNRS[1] not in remaining["knr"].to_list()
    assert remaining.height == written["vehicle_label"].filter(pl.col("knr") != KNRS[1]).height


def test_dimensions_are_upserted_by_key(warehouse: Warehouse) -> None:
    written = load_everything(warehouse)
    zones = written["dim_zone"]
    changed = zones.head(1).with_columns(pl.lit("ZPX").alias("zone"))
    added = changed.with_columns(pl.lit("Z999").alias("status_code"))

    warehouse.replace_vehicles({"dim_zone": pl.concat([changed, added])}, [])

    expected = pl.concat([changed, zones.slice(1), added]).sort("status_code")
    assert_frame_equal(warehouse.read_table("dim_zone"), expected)


def test_a_failure_midway_leaves_the_warehouse_as_it_was(warehouse: Warehouse) -> None:
    load_everything(warehouse)
    before = snapshot(warehouse)
    tables = {spec.name: sample_frame(spec, rows=2, knrs=KNRS[:1]) for spec in TRANSFORM_TABLES}
    last = TRANSFORM_TABLES[-1].name
    tables[last] = tables[last].with_columns(pl.lit(None, dtype=pl.Int64).alias("seq"))

    with pytest.raises(FrameContractError, match=r"mart_vehicle_events leave required columns"):
        warehouse.replace_vehicles(tables, KNRS[:1])

    assert_same_content(before, snapshot(warehouse))


def test_rows_of_vehicles_outside_the_rebuild_are_refused(warehouse: Warehouse) -> None:
    rows = sample_frame(WAREHOUSE_TABLES["vehicle_label"], rows=2)
    with pytest.raises(FrameContractError, match="not being replaced"):
        warehouse.replace_vehicles({"vehicle_label": rows}, KNRS[:1])
    assert warehouse.count_rows("vehicle_label") == 0


def test_repeated_keys_and_wrong_columns_are_refused_with_the_reason(warehouse: Warehouse) -> None:
    labels = sample_frame(WAREHOUSE_TABLES["vehicle_label"], rows=1)
    with pytest.raises(FrameContractError, match="repeat its primary key"):
        warehouse.replace_vehicles({"vehicle_label": pl.concat([labels, labels])}, KNRS)
    with pytest.raises(FrameContractError, match=r"missing \['road_test_failed'\]"):
        warehouse.replace_vehicles({"vehicle_label": labels.drop("road_test_failed")}, KNRS)
    with pytest.raises(FrameContractError, match="transform tables only"):
        warehouse.replace_vehicles({"predictions": labels}, KNRS)
    with pytest.raises(WarehouseSchemaError, match="no table 'nope'"):
        warehouse.read_table("nope")


def test_reads_filter_by_vehicle(warehouse: Warehouse) -> None:
    written = load_everything(warehouse)
    wanted = KNRS[1:]

    features = warehouse.read_features(wanted)
    events = warehouse.read_events(wanted)

    assert_frame_equal(
        features, written["mart_vehicle_features"].filter(pl.col("knr").is_in(wanted))
    )
    assert_frame_equal(events, written["mart_vehicle_events"].filter(pl.col("knr").is_in(wanted)))
    assert warehouse.read_features([]).height == 0


@pytest.mark.parametrize("padding", ["fetched", "bound", "staged"])
def test_filters_of_any_length_read_the_same_rows(warehouse: Warehouse, padding: str) -> None:
    """A few values are bound and fetched as rows, more are bound (PostgreSQL) and copied
    out, more still are staged as a relation: the same rows each way."""
    load_everything(warehouse)
    wanted = KNRS[1:]
    extra = {
        "fetched": 0,
        "bound": FEW_ROWS + 1,
        "staged": frame_io(warehouse.backend).max_bound_values + 1,
    }[padding]
    unknown = [f"2099-{n:07d}" for n in range(extra)]

    short = warehouse.read_events(wanted)
    long = warehouse.read_events([*unknown, *wanted])

    assert short.height > 0
    assert_frame_equal(long, short, check_exact=True)


def test_predictions_and_activations_are_recorded(warehouse: Warehouse) -> None:
    t0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
    t1 = t0 + dt.timedelta(days=3)
    warehouse.record_activation("road-test", "3", at=t0)
    warehouse.record_activation("road-test", "4", at=t1)
    warehouse.record_prediction(
        KNRS[0], "4", 0.25, False, features_as_of=dt.datetime(2024, 5, 4, 6, 0), predicted_at=t1
    )

    assert warehouse.active_model_version("road-test", at=t0 + dt.timedelta(hours=1)) == "3"
    assert warehouse.active_model_version("road-test", at=t1) == "4"
    assert warehouse.active_model_version("road-test", at=t0 - dt.timedelta(seconds=1)) is None
    activations = warehouse.read_table("model_activation")
    assert activations["active_to"].to_list() == [t1, None]
    predictions = warehouse.read_predictions([KNRS[0]])
    assert predictions.select("knr", "probability", "decision", "predicted_at").rows() == [
        (KNRS[0], 0.25, False, t1)
    ]
    with pytest.raises(FrameContractError, match=r"outside \[0, 1\]"):
        warehouse.record_prediction(KNRS[1], "4", 1.5, True)


def test_urls_other_than_duckdb_and_postgres_are_refused() -> None:
    with pytest.raises(WarehouseError, match="neither DuckDB"):
        connect("sqlite:///x.db")
    with pytest.raises(WarehouseError, match="psycopg 3"):
        connect("postgresql+psycopg2://u@127.0.0.1/db")


def test_settings_default_to_a_duckdb_file_under_home(tmp_path: Path) -> None:
    home = tmp_path / "not-yet-created"
    warehouse = Warehouse.from_settings(Settings(home=home, warehouse_url=None))
    try:
        assert warehouse.backend == "duckdb"
        assert warehouse.migrate() == [1, 2, 3, 4]
        assert (home / "warehouse.duckdb").is_file()
    finally:
        warehouse.dispose()


def test_inserting_no_rows_writes_nothing_and_raises_nothing(warehouse: Warehouse) -> None:
    spec = PREDICTIONS
    io = frame_io(warehouse.backend)
    with warehouse.engine.begin() as conn:
        io.insert(conn, spec.name, pl.DataFrame(schema=spec.schema()))
    assert warehouse.count_rows(spec.name) == 0
