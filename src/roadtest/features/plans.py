"""How the feature builders run their Polars plans.

Polars 2 runs a lazy query on its streaming engine unless told otherwise. The
feature plans are wide (about a hundred expressions) over inputs that fit in
memory, and for the one vehicle an API request scores, the streaming engine's
start-up and the optimiser are most of the cost. ``python
bench/bench_features.py --vehicles 600 --engines`` (busy 2-core machine, best
of 5 rounds taken in turns) measured one vehicle's sequence at 5.8 ms as done
here, 7.5 ms with the optimiser and 12.9 ms on the streaming engine; a whole
plant's sequences and table ran 1.2-1.9x faster in memory than streaming.
"""

from __future__ import annotations

from typing import Final, Literal

import polars as pl

ENGINE: Final[Literal["in-memory"]] = "in-memory"

SMALL_INPUT_ROWS: Final = 20_000
"""Plans over at most this many input rows (a few dozen vehicles) skip the optimiser."""


def collect_plan(plan: pl.LazyFrame, input_rows: int) -> pl.DataFrame:
    """Run a feature plan on the feature engine.

    ``input_rows`` is the size of the plan's largest input. Optimising a wide plan
    (pushdowns, common subexpressions) takes milliseconds that only pay off on
    large inputs: for one vehicle's few hundred events it is most of the time,
    for a plant's events the optimised plan runs several times faster. The result
    is the same either way.
    """
    if input_rows <= SMALL_INPUT_ROWS:
        return plan.collect(engine=ENGINE, optimizations=pl.QueryOptFlags.none())
    return plan.collect(engine=ENGINE)
