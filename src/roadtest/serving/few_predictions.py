"""Storing the predictions of a request for a few vehicles with one bound-parameter INSERT.

``Warehouse.record_predictions`` conforms a frame to the table, checks its
keys and bulk-loads it (COPY on PostgreSQL): the right way to store thousands
of predictions, but for one it costs more than scoring the vehicle. A request
for up to ``FEW_VEHICLES`` vehicles instead inserts its rows with bound
parameters in one statement of its own transaction. The rows are made by the
predictor (types fixed, instants unique per request, see ``Predictor._store``),
so what the frame checks guard against cannot occur; the probability range is
still checked, and a key already stored by another worker raises the same
``IntegrityError`` as the bulk path, which the predictor retries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa

from roadtest.warehouse import Warehouse
from roadtest.warehouse.errors import FrameContractError
from roadtest.warehouse.schema import PREDICTIONS, sql_table


@cache
def _table() -> sa.Table:
    return sql_table(PREDICTIONS, sa.MetaData())


def insert_predictions(warehouse: Warehouse, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows of the predictions table (one mapping per row); returns how many."""
    outside = [row for row in rows if not 0.0 <= row["probability"] <= 1.0]
    if outside:
        shown = [(row["knr"], row["probability"]) for row in outside[:3]]
        raise FrameContractError(
            f"{len(outside)} prediction(s) have a probability outside [0, 1], e.g. {shown}."
        )
    if rows:
        with warehouse.engine.begin() as conn:
            conn.execute(sa.insert(_table()), [dict(row) for row in rows])
    return len(rows)
