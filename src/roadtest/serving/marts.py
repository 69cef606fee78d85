"""Reading the vehicles a request scores from the feature marts.

Events are read with the columns the feature builders use (``EVENT_COLUMNS``)
only: PostgreSQL spends much of a large read formatting floats, and the one
float column left out (``dt_prev_seconds``) is not a feature input. A request
for a handful of vehicles is read with their KNRs as bound parameters
(``Transaction.read_table``), so the same read serves one vehicle and a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from roadtest.contracts.warehouse import MART_VEHICLE_EVENTS, MART_VEHICLE_FEATURES
from roadtest.features.sequence import EVENT_COLUMNS
from roadtest.warehouse import Transaction


def read_marts(tx: Transaction, knrs: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(feature mart rows, event mart rows of ``EVENT_COLUMNS``) of ``knrs``, as
    ``Transaction.read_table`` returns them.

    The request's own transaction reads them, so the vehicles are read and their
    predictions stored on one connection: on the DuckDB default each transaction
    opens the file anew, which cost as much as scoring the vehicle.
    """
    where = {"knr": list(dict.fromkeys(knrs))}
    return (
        tx.read_table(MART_VEHICLE_FEATURES.name, where),
        tx.read_table(MART_VEHICLE_EVENTS.name, where, EVENT_COLUMNS),
    )
