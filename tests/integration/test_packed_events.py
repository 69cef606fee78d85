"""The packed per-vehicle copy of the event mart, on DuckDB and PostgreSQL.

Scoring reads a batch's events from ``vehicle_event_batches`` on PostgreSQL
(DuckDB keeps no copies and reads the table); these tests hold the read to
giving exactly the rows ``mart_vehicle_events`` holds, whatever was loaded
before, and to falling back to the table where a copy is missing or outdated.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, Column, TableSpec
from roadtest.features.sequence import EVENT_COLUMNS
from roadtest.warehouse import Warehouse
from roadtest.warehouse.backends import FEW_ROWS, frame_io
from roadtest.warehouse.packed_events import PACKED_FORMAT, pack_events, unpack_events
from roadtest.warehouse.schema import sql_table

TEXTS = ["doors@ZP6", "", 'a "quoted", comma\nline', "ÇÃO 日本", "\\N"]


def vehicle_events(knr: str, count: int, start: dt.datetime) -> pl.DataFrame:
    """``count`` mart_vehicle_events rows of one vehicle, nulls and awkward text included."""
    rows = [
        {
            "knr": knr,
            "seq": i,
            "data": start + dt.timedelta(seconds=37 * i, microseconds=i),
            "event_type": ("zone", "result", "defect")[i % 3],
            "code": TEXTS[i % len(TEXTS)],
            "detail": TEXTS[(i + 2) % len(TEXTS)],
            "id_group": None if i % 4 == 0 else i * 11,
            "status": None if i % 3 else 1,
            "value": None if i % 5 == 0 else (i - 7.5) / 3.0,
            "is_nok": i % 6 == 1,
            "is_rework": i % 7 == 2,
            "t_offset_seconds": 37.0 * i,
            "dt_prev_seconds": 0.0 if i == 0 else 37.0,
        }
        for i in range(count)
    ]
    return pl.DataFrame(rows, schema=MART_VEHICLE_EVENTS.schema())


def plant_events(counts: dict[str, int]) -> pl.DataFrame:
    start = dt.datetime(2024, 3, 31, 1, 59, 59)
    return pl.concat(vehicle_events(knr, n, start) for knr, n in counts.items())


COUNTS = {f"2024-{n:07d}": (n * 13) % 40 + 1 for n in range(1, 25)}
"""24 vehicles of 1 to 40 events: more KNRs than a read binds as a few values."""


def test_packing_gives_back_every_event_of_every_vehicle_in_order() -> None:
    events = plant_events(COUNTS).sample(fraction=1.0, shuffle=True, seed=3)
    packed = pack_events(events)
    assert packed.get_column("knr").to_list() == sorted(COUNTS)
    assert packed.get_column("format").unique().to_list() == [PACKED_FORMAT]
    expected = events.sort("knr", "seq")
    assert_frame_equal(unpack_events(packed), expected, check_exact=True)
    some = packed.filter(pl.col("knr").is_in(sorted(COUNTS)[3:6]))
    assert_frame_equal(
        unpack_events(some), expected.filter(pl.col("knr").is_in(sorted(COUNTS)[3:6]))
    )


def test_no_events_pack_to_no_rows_and_unpack_to_an_empty_mart() -> None:
    packed = pack_events(plant_events(COUNTS).clear())
    assert packed.is_empty()
    assert_frame_equal(unpack_events(packed), plant_events(COUNTS).clear())


def test_each_load_keeps_the_packed_copy_equal_to_the_table(warehouse: Warehouse) -> None:
    knrs = sorted(COUNTS)
    warehouse.replace_vehicles({MART_VEHICLE_EVENTS.name: plant_events(COUNTS)}, knrs)
    reloaded = {knrs[0]: 2, knrs[1]: 0}
    fewer = plant_events({knr: n for knr, n in reloaded.items() if n})
    warehouse.replace_vehicles({MART_VEHICLE_EVENTS.name: fewer}, list(reloaded))

    packed = warehouse.read_table("vehicle_event_batches")
    kept = [k for k in knrs if k != knrs[1]] if warehouse.backend == "postgresql" else []
    assert packed.get_column("knr").to_list() == kept
    wanted = [*reversed(knrs), "2024-9999999", knrs[2]]
    with warehouse.transaction() as tx:
        read = tx.read_vehicle_events(wanted, EVENT_COLUMNS)
        table = tx.read_table(MART_VEHICLE_EVENTS.name, {"knr": wanted}, EVENT_COLUMNS)
    assert_frame_equal(read, table, check_exact=True)
    assert read.filter(pl.col("knr") == knrs[0]).height == 2


def test_vehicles_without_a_current_copy_are_read_from_the_table(warehouse: Warehouse) -> None:
    knrs = sorted(COUNTS)
    warehouse.replace_vehicles({MART_VEHICLE_EVENTS.name: plant_events(COUNTS)}, knrs)
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM vehicle_event_batches WHERE knr = '{knrs[4]}'")
        conn.exec_driver_sql(f"UPDATE vehicle_event_batches SET format = 0 WHERE knr = '{knrs[9]}'")
    with warehouse.transaction() as tx:
        read = tx.read_vehicle_events(knrs)
        two = tx.read_vehicle_events([knrs[9], knrs[10]])
    assert_frame_equal(read, warehouse.read_table(MART_VEHICLE_EVENTS.name), check_exact=True)
    assert two.height == COUNTS[knrs[9]] + COUNTS[knrs[10]]


def test_one_vehicle_is_read_from_the_table_and_many_from_the_copies(
    warehouse: Warehouse,
) -> None:
    knrs = sorted(COUNTS)
    warehouse.replace_vehicles({MART_VEHICLE_EVENTS.name: plant_events(COUNTS)}, knrs)
    with warehouse.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE vehicle_event_batches SET events = ''")
    with warehouse.transaction() as tx:
        one = tx.read_vehicle_events([knrs[0]])
        assert one.height == COUNTS[knrs[0]]
        if warehouse.backend == "postgresql":
            with pytest.raises(OSError, match="Lz4"):
                tx.read_vehicle_events(knrs[:2])


def test_many_binary_values_survive_the_bulk_paths(warehouse: Warehouse) -> None:
    table = TableSpec(
        name="blobs",
        description="binary values, more than are inserted as bound rows",
        columns=(
            Column("k", pl.Int64(), "key", nullable=False),
            Column("raw", pl.Binary(), "bytes"),
        ),
        primary_key=("k",),
        vehicle_scoped=False,
    )
    rows = 3 * FEW_ROWS
    frame = pl.DataFrame(
        {
            "k": range(rows),
            "raw": [
                None if i == 5 else bytes(range(i % 7, 256, 3)) + b'\\x,"\n' * i
                for i in range(rows)
            ],
        },
        schema=table.schema(),
    )
    io = frame_io(warehouse.backend)
    with warehouse.engine.begin() as conn:
        sql_table(table, sa.MetaData()).create(conn)
        io.insert(conn, table.name, frame)
        back = io.query(conn, 'SELECT * FROM "blobs" ORDER BY "k"', table.schema())
    assert_frame_equal(back, frame, check_exact=True)
