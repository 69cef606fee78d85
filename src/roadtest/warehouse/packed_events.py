"""Each vehicle's ``mart_vehicle_events`` rows packed into one value, for fast small reads.

Scoring a batch of 500 vehicles reads about 110,000 event rows. On PostgreSQL
a row costs about a microsecond to format into a COPY message and as much again
for psycopg to take it, one by one: ~170 ms a batch, more than the model, and
half of it on the database's share of the cores. So the warehouse keeps, next
to the table, one row per vehicle whose value is that vehicle's event rows as
one LZ4-compressed Arrow IPC record batch (``vehicle_event_batches``), written
in the same transaction as the table's rows (``Transaction.replace_vehicles``).
A batch request then reads 500 binary values, which cost little on either
side. Only PostgreSQL keeps the copies (``FrameIO.packs_events``): DuckDB hands
rows over as Arrow in place and reads them faster than the packed values.

The table stays the source of truth (training, the dashboard and SQL users read
it); the packed copy holds exactly its rows, in Arrow types declared here, so
what one polars version wrote another reads. A copy written in another
``PACKED_FORMAT`` is ignored, and its vehicle read from the table. The bytes
of a vehicle depend on the batch it was packed with (a slice of a record batch
keeps the unused bits and padding it had there), so equal copies are told by
what they unpack to, not by their bytes.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl
import pyarrow as pa

from roadtest.contracts.warehouse import KNR, MART_VEHICLE_EVENTS
from roadtest.warehouse.errors import WarehouseSchemaError
from roadtest.warehouse.schema import VEHICLE_EVENT_BATCHES

PACKED_FORMAT: Final = 1
"""Version of the packing; a change of ``packed_schema()`` or ``_CODEC`` needs a new one."""

_CODEC: Final = "lz4"
"""Each record batch is LZ4-compressed: a third of the bytes to store and send, and
PostgreSQL, finding them incompressible, stores them as they are, so reading them
costs it no decompression (its own ``pglz`` took ~30 ms for a batch of 500)."""


def _arrow_type(dtype: pl.DataType, name: str) -> pa.DataType:
    """The Arrow type a mart column is packed as: fixed here, not whatever polars exports."""
    if isinstance(dtype, pl.Datetime):
        return pa.timestamp(dtype.time_unit, dtype.time_zone)
    types: dict[type[pl.DataType], pa.DataType] = {
        pl.String: pa.large_string(),
        pl.Int64: pa.int64(),
        pl.Float64: pa.float64(),
        pl.Boolean: pa.bool_(),
    }
    found = types.get(type(dtype))
    if found is None:
        raise WarehouseSchemaError(
            f"Column {MART_VEHICLE_EVENTS.name}.{name} has type {dtype}, which the packed "
            "event copy does not know; add it to packed_events._arrow_type with a new "
            "PACKED_FORMAT."
        )
    return found


def packed_schema() -> pa.Schema:
    """The Arrow schema of a packed vehicle: every event mart column but ``knr``."""
    return pa.schema(
        [
            pa.field(name, _arrow_type(dtype, name))
            for name, dtype in MART_VEHICLE_EVENTS.schema().items()
            if name != KNR.name
        ]
    )


def pack_events(events: pl.DataFrame) -> pl.DataFrame:
    """One row per vehicle of ``events`` (mart_vehicle_events rows): knr, format, events.

    The record batch of a vehicle holds its rows in ``seq`` order.
    """
    schema = packed_schema()
    ordered = events.sort(KNR.name, "seq")
    runs = ordered.select(pl.col(KNR.name).rle()).unnest(KNR.name)
    rows = ordered.select(schema.names).to_arrow().cast(schema).combine_chunks()
    codec = pa.Codec(_CODEC)
    blobs: list[bytes] = []
    sizes: list[int] = []
    if rows.num_rows:
        (batch,) = rows.to_batches()
        offset = 0
        for length in runs.get_column("len").to_list():
            message = batch.slice(offset, length).serialize()
            blobs.append(codec.compress(message, asbytes=True))
            sizes.append(message.size)
            offset += length
    return pl.DataFrame(
        {
            KNR.name: runs.get_column("value").cast(pl.String()),
            "format": [PACKED_FORMAT] * len(blobs),
            "events": blobs,
            "unpacked_bytes": sizes,
        },
        schema=VEHICLE_EVENT_BATCHES.schema(),
    )


def unpack_events(packed: pl.DataFrame) -> pl.DataFrame:
    """The mart_vehicle_events rows of the vehicles in ``packed`` (rows of ``pack_events``).

    Rows in another ``PACKED_FORMAT`` must have been left out by the caller.
    """
    schema = packed_schema()
    codec = pa.Codec(_CODEC)
    batches = [
        pa.ipc.read_record_batch(codec.decompress(blob, decompressed_size=size), schema)
        for blob, size in zip(
            packed.get_column("events").to_list(),
            packed.get_column("unpacked_bytes").to_list(),
            strict=True,
        )
    ]
    counts = np.array([batch.num_rows for batch in batches], dtype=np.int64)
    # One contiguous batch first: polars converts 500 one-vehicle chunks several times slower.
    rows = pl.from_arrow(pa.concat_batches(batches) if batches else schema.empty_table())
    assert isinstance(rows, pl.DataFrame)
    owner = pl.Series(np.repeat(np.arange(len(batches)), counts))
    knrs = packed.get_column(KNR.name).gather(owner)
    return rows.with_columns(knrs.alias(KNR.name)).select(
        pl.col(name).cast(dtype) for name, dtype in MART_VEHICLE_EVENTS.schema().items()
    )
