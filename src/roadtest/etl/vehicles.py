"""Per-vehicle reference times: the road-test start and the main-chain passages.

Both are computed from the cleaned facts with joins and group-bys only, so they
run unchanged on every engine. The chain "pivot" holds, per vehicle, the epoch
of the first passage at each main-chain code (``t_<code>``); zone lookups,
gaps and dwell times are column arithmetic on it.
"""

from __future__ import annotations

from typing import Final

import narwhals as nw

from roadtest.contracts.partner import ROAD_TEST_HALLE, ROAD_TEST_START_STATUS, ZONE_CHAIN

CHAIN_CODES: Final[tuple[str, ...]] = tuple(code for code, _ in ZONE_CHAIN)
CHAIN_ZONES: Final[dict[str, str]] = dict(ZONE_CHAIN)
LINE_ORDER: Final[dict[str, int]] = {code: i + 1 for i, code in enumerate(CHAIN_CODES)}
ROAD_TEST_ORDER: Final[int] = LINE_ORDER[ROAD_TEST_START_STATUS]


def chain_column(code: str) -> str:
    """Name of the pivot column holding the first passage epoch at ``code``."""
    return f"t_{code}"


def road_test_starts(passages: nw.LazyFrame, defects: nw.LazyFrame) -> nw.LazyFrame:
    """(knr, road_test_start_at, start_ts) for every vehicle that reached the road test.

    The start is the earliest of the first M710 passage and the first ROD defect:
    either one proves the car was on the road test.
    """
    m710 = passages.filter(nw.col("status_code") == ROAD_TEST_START_STATUS).select(
        "knr", "data", "ts"
    )
    rod = defects.filter(nw.col("halle") == ROAD_TEST_HALLE).select("knr", "data", "ts")
    return (
        nw.concat([m710, rod], how="vertical")
        .group_by("knr")
        .agg(
            nw.col("data").min().alias("road_test_start_at"),
            nw.col("ts").min().alias("start_ts"),
        )
    )


def chain_pivot(passages: nw.LazyFrame, codes: tuple[str, ...] = CHAIN_CODES) -> nw.LazyFrame:
    """(knr, t_<code> for each of ``codes``): epoch of the first passage, null if none."""
    return (
        passages.filter(nw.col("status_code").is_in(codes))
        .with_columns(
            *(
                nw.when(nw.col("status_code") == code).then(nw.col("ts")).alias(chain_column(code))
                for code in codes
            )
        )
        .group_by("knr")
        .agg(*(nw.col(chain_column(code)).min() for code in codes))
    )


def before_start() -> nw.Expr:
    """The row's time is strictly before its vehicle's road-test start (or there is none yet)."""
    return nw.col("start_ts").is_null() | (nw.col("ts") < nw.col("start_ts"))
