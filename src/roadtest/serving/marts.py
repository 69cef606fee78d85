"""Reading a few vehicles' mart rows fast, for single-vehicle requests.

``Warehouse.read_features`` / ``read_events`` stage the KNRs as a temporary
relation and bulk-copy the result out: the right way to read thousands of
vehicles, but on PostgreSQL creating and dropping a temporary table costs more
than scoring one vehicle. A request for a handful of vehicles instead selects
their rows with the KNRs as bound parameters (values still never enter the
SQL text) and gives them exactly the types the warehouse's own reads give, so
both paths feed the model identical frames.

Events are read with the columns the feature builders use (``EVENT_COLUMNS``)
only: PostgreSQL spends much of a large read formatting floats, and the one
float column left out (``dt_prev_seconds``) is not a feature input.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

import polars as pl
import sqlalchemy as sa

from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, MART_VEHICLE_FEATURES, TableSpec
from roadtest.features.sequence import EVENT_COLUMNS
from roadtest.warehouse import Warehouse
from roadtest.warehouse.backends import conform_result
from roadtest.warehouse.schema import sql_table

FEW_VEHICLES: Final = 16
"""Up to this many vehicles are read with bound parameters; more go through the bulk path."""


@cache
def _table(spec: TableSpec) -> sa.Table:
    return sql_table(spec, sa.MetaData())


def _select(
    conn: sa.Connection, spec: TableSpec, knrs: Sequence[str], columns: Sequence[str]
) -> pl.DataFrame:
    """``columns`` of ``spec`` for ``knrs``, ordered by primary key, with the declared types."""
    table = _table(spec)
    statement = (
        sa.select(*(table.c[name] for name in columns))
        .where(table.c.knr.in_(list(knrs)))
        .order_by(*(table.c[name] for name in spec.primary_key))
    )
    rows = conn.execute(statement).all()
    schema = pl.Schema({name: spec.schema()[name] for name in columns})
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame if frame.schema == schema else conform_result(frame, schema)


def read_marts(warehouse: Warehouse, knrs: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(feature mart rows, event mart rows of ``EVENT_COLUMNS``) of ``knrs``, as
    ``Warehouse.read_table`` returns them."""
    unique = list(dict.fromkeys(knrs))
    if len(unique) > FEW_VEHICLES:
        events = warehouse.read_table(MART_VEHICLE_EVENTS.name, {"knr": unique}, EVENT_COLUMNS)
        return warehouse.read_features(unique), events
    features = MART_VEHICLE_FEATURES.schema().names()
    with warehouse.engine.connect() as conn:
        return (
            _select(conn, MART_VEHICLE_FEATURES, unique, features),
            _select(conn, MART_VEHICLE_EVENTS, unique, EVENT_COLUMNS),
        )
