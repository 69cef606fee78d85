"""Fact tables: test results, zone passages and defects with their derived flags.

Each builder returns the fact enriched with the helper columns later stages
need (epoch ``ts``, ``start_ts``); ``transforms.conform`` keeps only the
columns of the contract.
"""

from __future__ import annotations

import itertools
from typing import Final

import narwhals as nw

from roadtest.contracts.partner import (
    FALHA_DEFECT_HEAD,
    FALHA_SEPARATOR,
    POST_ROAD_TEST_HALLES,
    POST_ROAD_TEST_NAME_PREFIX,
    PRE_ROAD_TEST_HALLES,
    RESULT_STATUS_NOK,
    ROAD_TEST_HALLE,
    S_GROUPS,
)
from roadtest.contracts.warehouse import UNKNOWN_GROUP
from roadtest.etl.exprs import lookup, seconds_between
from roadtest.etl.vehicles import (
    CHAIN_CODES,
    CHAIN_ZONES,
    LINE_ORDER,
    ROAD_TEST_ORDER,
    before_start,
    chain_column,
)


def _halle_zone(halle: str) -> str | None:
    zones = set(CHAIN_ZONES.values())
    if halle in zones:
        return halle
    prefixes = [z for z in zones if halle.startswith(z)]
    return max(prefixes, key=len) if prefixes else None


HALLE_ZONES: Final[dict[str, str]] = {
    halle: zone
    for halle in (*PRE_ROAD_TEST_HALLES, *sorted(POST_ROAD_TEST_HALLES))
    if (zone := _halle_zone(halle)) is not None
}
"""Known HALLE → main-chain zone: the zone itself, or the zone it subdivides (ZP62 → ZP6)."""

_PART_TAIL: Final = r"\.\s+(?:[^.]|\.+[^.\s])*\.*$"
"""The last '. ' and everything after it (the tail contains no further dot-space)."""


# --- zone passages -------------------------------------------------------------


def _previous_chain_ts() -> nw.Expr:
    """Epoch of the first passage at the nearest preceding chain code the vehicle has."""
    chain = None
    for i, code in enumerate(CHAIN_CODES[1:], start=1):
        earlier = nw.coalesce(*(nw.col(chain_column(c)) for c in reversed(CHAIN_CODES[:i])))
        cond = nw.col("status_code") == code
        chain = nw.when(cond).then(earlier) if chain is None else chain.when(cond).then(earlier)
    assert chain is not None
    return chain.otherwise(nw.lit(None, nw.Int64))


def _previous_code_missing() -> nw.Expr:
    chain = None
    for prev, code in itertools.pairwise(CHAIN_CODES):
        cond = nw.col("status_code") == code
        missing = nw.col(chain_column(prev)).is_null()
        chain = nw.when(cond).then(missing) if chain is None else chain.when(cond).then(missing)
    assert chain is not None
    return chain.otherwise(nw.lit(False))


def build_zone_passages(
    passages: nw.LazyFrame, starts: nw.LazyFrame, pivot: nw.LazyFrame
) -> nw.LazyFrame:
    """fact_zone_passage: zone, signed gap along the line order and its flags.

    Gaps follow the line order (not time order: in time order a gap can never be
    negative), so a sensor clock that disagrees with its neighbours shows up as a
    negative gap, which is kept here and flagged.
    """
    line_order = lookup("status_code", LINE_ORDER).cast(nw.Int32)
    return (
        passages.join(starts, on="knr", how="left")
        .join(pivot, on="knr", how="left")
        .with_columns(
            zone=lookup("status_code", CHAIN_ZONES).cast(nw.String),
            line_order=line_order,
            gap_seconds=seconds_between(nw.col("ts"), _previous_chain_ts()),
            is_missing_previous=_previous_code_missing(),
            known_before_road_test=before_start()
            & ~(line_order >= ROAD_TEST_ORDER).fill_null(False),
        )
        .with_columns(is_negative_gap=(nw.col("gap_seconds") < 0).fill_null(False))
        .drop(*(chain_column(c) for c in CHAIN_CODES))
    )


# --- test results ------------------------------------------------------------------


def _latest_chain_ts(ts: str) -> nw.Expr:
    """Epoch of the latest first-passage at a chain code at or before ``ts``.

    Codes from M710 on count only for times at or after the road-test start, so a
    mis-dated post-road-test passage cannot move a pre-road-test result's zone.
    """
    candidates = []
    for code in CHAIN_CODES:
        t = nw.col(chain_column(code))
        allowed = t <= nw.col(ts)
        if LINE_ORDER[code] >= ROAD_TEST_ORDER:
            allowed = allowed & ~nw.col("start_ts").is_null() & (nw.col(ts) >= nw.col("start_ts"))
        candidates.append(nw.when(allowed).then(t))
    return nw.max_horizontal(*candidates)


def _line_order_of(latest: str) -> nw.Expr:
    """Line order of the chain code whose first passage is ``latest`` (later code on ties)."""
    chain = None
    for code in reversed(CHAIN_CODES):
        cond = nw.col(chain_column(code)) == nw.col(latest)
        order = nw.lit(LINE_ORDER[code])
        chain = nw.when(cond).then(order) if chain is None else chain.when(cond).then(order)
    assert chain is not None
    return chain.otherwise(nw.lit(None, nw.Int64)).cast(nw.Int64)


def build_test_results(
    results: nw.LazyFrame, starts: nw.LazyFrame, pivot: nw.LazyFrame
) -> nw.LazyFrame:
    """fact_test_result: NOK, rework, zone at the result and the leakage flag."""
    zone_by_order = {order: CHAIN_ZONES[code] for code, order in LINE_ORDER.items()}
    measured = ["knr", "name", "value_id"]
    return (
        results.join(starts, on="knr", how="left")
        .join(pivot, on="knr", how="left")
        .with_columns(
            first_ts=nw.col("ts").min().over(*measured),
            is_nok=nw.col("status") == RESULT_STATUS_NOK,
            known_before_road_test=before_start()
            & ~nw.col("name").str.starts_with(POST_ROAD_TEST_NAME_PREFIX),
        )
        .with_columns(
            is_rework=nw.col("ts") > nw.col("first_ts"),
            _latest=_latest_chain_ts("ts"),
            _latest_first=_latest_chain_ts("first_ts"),
        )
        .with_columns(
            _order=_line_order_of("_latest"),
            _order_first=_line_order_of("_latest_first"),
        )
        .with_columns(
            zone_at_result=lookup("_order", zone_by_order).cast(nw.String),
            rework_after_zone_exit=nw.col("is_rework")
            & (nw.col("_order").fill_null(0) > nw.col("_order_first").fill_null(0)),
        )
        .drop(
            "first_ts",
            "_latest",
            "_latest_first",
            "_order",
            "_order_first",
            *(chain_column(c) for c in CHAIN_CODES),
        )
    )


# --- defects ---------------------------------------------------------------------


def build_defects(defects: nw.LazyFrame, starts: nw.LazyFrame) -> nw.LazyFrame:
    """fact_defect: zone, FALHA split into part and defect type, group name, leakage flag."""
    falha = nw.col("falha")
    return defects.join(starts, on="knr", how="left").with_columns(
        zone=lookup("halle", HALLE_ZONES).cast(nw.String),
        part=falha.str.replace_all(_PART_TAIL, ""),
        defect_type=nw.when(falha.str.contains(FALHA_SEPARATOR)).then(
            falha.str.replace_all(FALHA_DEFECT_HEAD, "")
        ),
        s_group=lookup("s_group_id", S_GROUPS, UNKNOWN_GROUP).cast(nw.String),
        is_road_test_defect=nw.col("halle") == ROAD_TEST_HALLE,
        before_road_test=before_start() & ~nw.col("halle").is_in(sorted(POST_ROAD_TEST_HALLES)),
    )
