"""Reading the vehicles a request scores from the feature marts.

Events come from the warehouse's packed per-vehicle copies of the event mart
(``Transaction.read_vehicle_events``): a batch of 500 vehicles is 500 binary
values rather than 110,000 rows, which on PostgreSQL cost more to send than the
model costs to run. Only the columns the feature builders use
(``EVENT_COLUMNS``) are kept. The KNRs are bound as parameters
(``Transaction.read_table``), so the same read serves one vehicle and a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from roadtest.contracts.warehouse import MART_VEHICLE_FEATURES
from roadtest.features.sequence import EVENT_COLUMNS
from roadtest.warehouse import Transaction


def read_marts(tx: Transaction, knrs: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(feature mart rows, event mart rows of ``EVENT_COLUMNS``) of ``knrs``, as
    ``Transaction.read_table`` returns them.

    The request's own transaction reads them, so the vehicles are read and their
    predictions stored on one connection: on the DuckDB default each transaction
    opens the file anew, which cost as much as scoring the vehicle.
    """
    wanted = list(dict.fromkeys(knrs))
    return (
        tx.read_table(MART_VEHICLE_FEATURES.name, {"knr": wanted}),
        tx.read_vehicle_events(wanted, EVENT_COLUMNS),
    )
