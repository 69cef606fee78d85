"""Dimensions: zones, dates, test programs (with the derived spec window) and vehicles."""

from __future__ import annotations

import narwhals as nw

from roadtest.contracts.partner import (
    POST_ROAD_TEST_NAME_PREFIX,
    RESULT_ID_GROUPS,
    RESULT_STATUS_OK,
)
from roadtest.contracts.warehouse import PRE_ROAD_TEST_CHAIN, UNKNOWN_GROUP
from roadtest.etl.exprs import lookup, with_calendar
from roadtest.etl.vehicles import (
    CHAIN_CODES,
    CHAIN_ZONES,
    LINE_ORDER,
    ROAD_TEST_ORDER,
    chain_column,
)


def build_dim_zone(passages: nw.LazyFrame) -> nw.LazyFrame:
    """dim_zone: every status code seen, with its main-chain zone and order when it has one."""
    code = nw.col("status_code")
    order = lookup("status_code", LINE_ORDER).cast(nw.Int32)
    return (
        passages.select("status_code")
        .unique()
        .with_columns(
            zone=lookup("status_code", CHAIN_ZONES).cast(nw.String),
            line_order=order,
            in_main_chain=code.is_in(CHAIN_CODES),
            after_road_test=(order >= ROAD_TEST_ORDER).fill_null(False),
        )
    )


def build_dim_date(*facts: nw.LazyFrame) -> nw.LazyFrame:
    """dim_date: every calendar day that occurs in the facts' ``data``."""
    days = nw.concat(
        [fact.select(nw.col("data").dt.date().alias("date")).unique() for fact in facts],
        how="vertical",
    ).unique()
    return with_calendar(days, "date")


def build_dim_test(results: nw.LazyFrame) -> nw.LazyFrame:
    """dim_test from the fact_test_result frame.

    The spec window is the range of OK values known before the road test: every
    OK value lies within spec, and restricting to pre-road-test rows keeps a
    vehicle's post-road-test retests from moving anyone's features.
    """
    ok_value = nw.when(
        nw.col("known_before_road_test")
        & (nw.col("status") == RESULT_STATUS_OK)
        & ~nw.col("value").is_null()
    ).then(nw.col("value"))
    return (
        results.with_columns(_ok_value=ok_value, _is_ok=(~ok_value.is_null()).cast(nw.Int64))
        .group_by("name", "value_id")
        .agg(
            nw.col("id_group").max(),
            nw.col("unit").max(),
            nw.col("_ok_value").min().alias("ok_min"),
            nw.col("_ok_value").max().alias("ok_max"),
            nw.col("_is_ok").sum().alias("n_ok"),
        )
        .with_columns(
            id_group_name=lookup("id_group", RESULT_ID_GROUPS, UNKNOWN_GROUP).cast(nw.String),
            post_road_test=nw.col("name").str.starts_with(POST_ROAD_TEST_NAME_PREFIX),
        )
    )


def _seen(fact: nw.LazyFrame, count: str) -> nw.LazyFrame:
    return fact.group_by("knr").agg(
        nw.len().cast(nw.Int64).alias(count),
        nw.col("data").min().alias("first_seen_at"),
        nw.col("data").max().alias("last_seen_at"),
    )


def build_dim_vehicle(
    results: nw.LazyFrame,
    passages: nw.LazyFrame,
    defects: nw.LazyFrame,
    starts: nw.LazyFrame,
    pivot: nw.LazyFrame,
) -> nw.LazyFrame:
    """dim_vehicle: one row per KNR seen in any export."""
    counted = {
        "n_results": _seen(results, "n_results"),
        "n_passages": _seen(passages, "n_passages"),
        "n_defects": _seen(defects, "n_defects"),
    }
    vehicles = (
        nw.concat(
            [frame.select("knr", "first_seen_at", "last_seen_at") for frame in counted.values()],
            how="vertical",
        )
        .group_by("knr")
        .agg(nw.col("first_seen_at").min(), nw.col("last_seen_at").max())
    )
    for count, frame in counted.items():
        vehicles = vehicles.join(frame.select("knr", count), on="knr", how="left")
    config = defects.group_by("knr").agg(
        nw.col("modelo").min(), nw.col("cor").min(), nw.col("motor").min()
    )
    entry_code = PRE_ROAD_TEST_CHAIN[0][0]
    line_entry = (
        passages.filter(nw.col("status_code") == entry_code)
        .group_by("knr")
        .agg(nw.col("data").min().alias("line_entry_at"))
    )
    complete = nw.all_horizontal(
        *(~nw.col(chain_column(code)).is_null() for code, _ in PRE_ROAD_TEST_CHAIN),
        ignore_nulls=False,
    )
    return (
        vehicles.join(config, on="knr", how="left")
        .join(line_entry, on="knr", how="left")
        .join(starts.select("knr", "road_test_start_at"), on="knr", how="left")
        .join(pivot, on="knr", how="left")
        .with_columns(
            *(nw.col(count).fill_null(0) for count in counted),
            reached_road_test=~nw.col("road_test_start_at").is_null(),
            labelled=~nw.col("road_test_start_at").is_null(),
            has_complete_chain=complete.fill_null(False),
        )
    )
