"""Feature marts: one row of tabular features and one event sequence per vehicle.

Both are built only from fact rows flagged as known before the road test, and
every per-vehicle quantity is recomputed from those rows alone (even the chain
passages behind the dwell times and negative-gap counts), so adding anything
recorded at or after a vehicle's road-test start cannot change its rows.
"""

from __future__ import annotations

from typing import Final

import narwhals as nw

from roadtest.contracts.partner import RESULT_STATUS_OK
from roadtest.contracts.warehouse import (
    DWELL_ZONES,
    FEATURE_DEFECT_ZONES,
    FEATURE_ID_GROUPS,
    FEATURE_S_GROUPS,
    PRE_ROAD_TEST_CHAIN,
    slug,
)
from roadtest.etl.exprs import as_int, seconds_between
from roadtest.etl.vehicles import chain_column, chain_pivot

EVENT_ORDER: Final = ("ts", "_type_rank", "code", "detail")
"""Sort key of a vehicle's events; unique per vehicle because the facts are unique on it."""


def _rate(numerator: str, denominator: str) -> nw.Expr:
    den = nw.col(denominator)
    return nw.when(den > 0).then(nw.col(numerator) / den).cast(nw.Float64)


def _non_negative(seconds: nw.Expr) -> nw.Expr:
    return nw.when(seconds >= 0).then(seconds)


def _margin() -> nw.Expr:
    """Relative distance of an OK value to the nearer edge of its spec window (0 … 0.5)."""
    width = nw.col("ok_max") - nw.col("ok_min")
    nearer = nw.min_horizontal(
        nw.col("value") - nw.col("ok_min"), nw.col("ok_max") - nw.col("value")
    )
    usable = (nw.col("status") == RESULT_STATUS_OK) & ~nw.col("value").is_null() & (width > 0)
    return nw.when(usable).then(nearer / width).cast(nw.Float64)


def _result_features(results: nw.LazyFrame, windows: nw.LazyFrame) -> nw.LazyFrame:
    group = nw.col("id_group")
    per_group: list[nw.Expr] = []
    aggs: list[nw.Expr] = []
    for gid, name in FEATURE_ID_GROUPS:
        in_group = group == gid
        per_group += [
            as_int(in_group).alias(f"n_results_{name}"),
            as_int(in_group & nw.col("is_nok")).alias(f"n_nok_{name}"),
            as_int(in_group & nw.col("is_rework")).alias(f"n_rework_{name}"),
            nw.when(in_group).then(nw.col("_margin")).alias(f"min_margin_{name}"),
        ]
        aggs += [
            nw.col(f"n_results_{name}").sum(),
            nw.col(f"n_nok_{name}").sum(),
            nw.col(f"n_rework_{name}").sum(),
            nw.col(f"min_margin_{name}").min(),
        ]
    return (
        results.join(
            windows.select("name", "value_id", "ok_min", "ok_max"),
            on=["name", "value_id"],
            how="left",
        )
        .with_columns(_margin=_margin())
        .with_columns(
            *per_group,
            _nok=as_int(nw.col("is_nok")),
            _rework=as_int(nw.col("is_rework")),
            _rework_exit=as_int(nw.col("rework_after_zone_exit")),
        )
        .group_by("knr")
        .agg(
            nw.len().cast(nw.Int64).alias("n_results"),
            nw.col("_nok").sum().alias("n_nok"),
            nw.col("_rework").sum().alias("n_rework"),
            nw.col("_rework_exit").sum().alias("n_rework_after_zone_exit"),
            nw.col("name").n_unique().cast(nw.Int64).alias("n_programs"),
            nw.col("_margin").min().alias("min_margin"),
            *aggs,
            nw.col("ts").min().alias("first_ts"),
            nw.col("ts").max().alias("last_ts"),
            nw.col("data").max().alias("last_data"),
        )
    )


def _program_features(results: nw.LazyFrame) -> nw.LazyFrame:
    return (
        results.with_columns(_nok=as_int(nw.col("is_nok")))
        .group_by("knr", "name")
        .agg(nw.col("_nok").sum())
        .with_columns(_has_nok=as_int(nw.col("_nok") > 0))
        .group_by("knr")
        .agg(
            nw.col("_has_nok").sum().alias("n_nok_programs"),
            nw.col("_nok").max().alias("max_nok_in_program"),
        )
    )


def _passage_features(passages: nw.LazyFrame) -> nw.LazyFrame:
    """Passage counts, chain completeness, negative gaps and dwell times.

    All from the vehicle's pre-road-test passages alone (their own chain pivot),
    so a passage added later cannot change them. A negative gap here is a chain
    code whose first passage precedes the first passage at the nearest earlier
    code the vehicle has.
    """
    codes = tuple(code for code, _ in PRE_ROAD_TEST_CHAIN)
    pivot = chain_pivot(passages, codes)
    counts = passages.group_by("knr").agg(
        nw.len().alias("n_passages"),
        nw.col("ts").min().alias("first_ts"),
        nw.col("ts").max().alias("last_ts"),
        nw.col("data").max().alias("last_data"),
    )
    t = {code: nw.col(chain_column(code)) for code in codes}
    present = [~t[code].is_null() for code in codes]
    negative = [
        as_int(t[code] < nw.coalesce(*(t[c] for c in reversed(codes[:i]))))
        for i, code in enumerate(codes[1:], start=1)
    ]
    return counts.join(pivot, on="knr", how="left").with_columns(
        *(
            _non_negative(seconds_between(t[nxt], t[code])).alias(f"dwell_{slug(zone)}_s")
            for zone, code, nxt in DWELL_ZONES
        ),
        line_time_s=_non_negative(seconds_between(t[codes[-1]], t[codes[0]])),
        n_chain_zones=nw.sum_horizontal(*(as_int(p) for p in present)),
        has_complete_chain=nw.all_horizontal(*present, ignore_nulls=False),
        n_negative_gaps=nw.sum_horizontal(*negative),
    )


def _defect_features(defects: nw.LazyFrame) -> nw.LazyFrame:
    group = nw.col("s_group_id")
    by_group = [
        as_int(group.is_null() if gid is None else group == gid).alias(f"n_defects_grp_{name}")
        for gid, name in FEATURE_S_GROUPS
    ]
    by_zone = [
        as_int(nw.col("halle") == zone).alias(f"n_defects_zone_{slug(zone)}")
        for zone in FEATURE_DEFECT_ZONES
    ]
    columns = [f"n_defects_grp_{name}" for _, name in FEATURE_S_GROUPS] + [
        f"n_defects_zone_{slug(zone)}" for zone in FEATURE_DEFECT_ZONES
    ]
    summary = (
        defects.with_columns(*by_group, *by_zone)
        .group_by("knr")
        .agg(
            nw.len().cast(nw.Int64).alias("n_defects"),
            *(nw.col(c).sum() for c in columns),
            nw.col("modelo").min(),
            nw.col("cor").min(),
            nw.col("motor").min(),
            nw.col("ts").min().alias("first_ts"),
            nw.col("ts").max().alias("last_ts"),
            nw.col("data").max().alias("last_data"),
        )
    )
    types = (
        defects.filter(~nw.col("defect_type").is_null())
        .group_by("knr")
        .agg(nw.col("defect_type").n_unique().cast(nw.Int64).alias("n_defect_types"))
    )
    return summary.join(types, on="knr", how="left")


_SPAN_SOURCES: Final = ("first_ts", "last_ts", "last_data")


def build_mart_vehicle_features(
    results: nw.LazyFrame,
    passages: nw.LazyFrame,
    defects: nw.LazyFrame,
    starts: nw.LazyFrame,
    windows: nw.LazyFrame,
) -> nw.LazyFrame:
    """mart_vehicle_features from the three fact frames, the starts and the spec windows."""
    pre_results = results.filter(nw.col("known_before_road_test"))
    pre_passages = passages.filter(nw.col("known_before_road_test"))
    pre_defects = defects.filter(nw.col("before_road_test"))
    parts = {
        "res": _result_features(pre_results, windows),
        "pas": _passage_features(pre_passages),
        "def": _defect_features(pre_defects),
    }
    spans = (
        nw.concat([frame.select("knr", *_SPAN_SOURCES) for frame in parts.values()], how="vertical")
        .group_by("knr")
        .agg(nw.col("first_ts").min(), nw.col("last_ts").max(), nw.col("last_data").max())
    )
    mart = spans.join(parts["pas"].drop(*_SPAN_SOURCES), on="knr", how="left")
    mart = mart.join(parts["res"].drop(*_SPAN_SOURCES), on="knr", how="left")
    mart = mart.join(parts["def"].drop(*_SPAN_SOURCES), on="knr", how="left")
    mart = mart.join(_program_features(pre_results), on="knr", how="left")
    mart = mart.join(starts, on="knr", how="left")
    as_of_ts = nw.coalesce(nw.col("start_ts"), nw.col("last_ts"))
    counts = [
        "n_results",
        "n_nok",
        "n_rework",
        "n_rework_after_zone_exit",
        "n_programs",
        "n_nok_programs",
        "max_nok_in_program",
        "n_passages",
        "n_chain_zones",
        "n_negative_gaps",
        "n_defects",
        "n_defect_types",
        *(
            f"n_{kind}_{name}"
            for _, name in FEATURE_ID_GROUPS
            for kind in ("results", "nok", "rework")
        ),
        *(f"n_defects_grp_{name}" for _, name in FEATURE_S_GROUPS),
        *(f"n_defects_zone_{slug(zone)}" for zone in FEATURE_DEFECT_ZONES),
    ]
    return mart.with_columns(
        *(nw.col(c).fill_null(0) for c in counts),
        as_of=nw.coalesce(nw.col("road_test_start_at"), nw.col("last_data")),
        labelled=~nw.col("start_ts").is_null(),
        span_s=seconds_between(as_of_ts, nw.col("first_ts")),
        has_complete_chain=nw.col("has_complete_chain").fill_null(False),
    ).with_columns(
        *(
            _rate(f"n_nok_{name}", f"n_results_{name}").alias(f"nok_rate_{name}")
            for _, name in FEATURE_ID_GROUPS
        ),
        *(
            _rate(f"n_rework_{name}", f"n_results_{name}").alias(f"rework_rate_{name}")
            for _, name in FEATURE_ID_GROUPS
        ),
        nok_rate=_rate("n_nok", "n_results"),
        rework_rate=_rate("n_rework", "n_results"),
    )


_EVENT_COLUMNS: Final = (
    "knr",
    "data",
    "ts",
    "event_type",
    "_type_rank",
    "code",
    "detail",
    "id_group",
    "status",
    "value",
    "is_nok",
    "is_rework",
)


def _events(frame: nw.LazyFrame, event_type: str, rank: int, **columns: nw.Expr) -> nw.LazyFrame:
    defaults = {
        "event_type": nw.lit(event_type),
        "_type_rank": nw.lit(rank).cast(nw.Int64),
        "detail": nw.lit(""),
        "id_group": nw.lit(None, nw.Int64),
        "status": nw.lit(None, nw.Int64),
        "value": nw.lit(None, nw.Float64),
        "is_nok": nw.lit(False),
        "is_rework": nw.lit(False),
    }
    exprs = {**defaults, **columns}
    return frame.select(
        *(nw.col(name) if name not in exprs else exprs[name].alias(name) for name in _EVENT_COLUMNS)
    )


def build_mart_vehicle_events(
    results: nw.LazyFrame, passages: nw.LazyFrame, defects: nw.LazyFrame
) -> nw.LazyFrame:
    """mart_vehicle_events: each vehicle's pre-road-test events in a total, engine-free order."""
    zone = _events(
        passages.filter(nw.col("known_before_road_test")),
        "zone",
        0,
        code=nw.col("status_code"),
    )
    result = _events(
        results.filter(nw.col("known_before_road_test")),
        "result",
        1,
        code=nw.col("name"),
        detail=nw.col("value_id"),
        id_group=nw.col("id_group"),
        status=nw.col("status"),
        value=nw.col("value"),
        is_nok=nw.col("is_nok"),
        is_rework=nw.col("is_rework"),
    )
    defect = _events(
        defects.filter(nw.col("before_road_test")),
        "defect",
        2,
        code=nw.concat_str([nw.col("s_group"), nw.lit("@"), nw.col("halle")], separator=""),
        detail=nw.col("falha"),
        id_group=nw.col("s_group_id"),
    )
    order = list(EVENT_ORDER)
    return nw.concat([zone, result, defect], how="vertical").with_columns(
        seq=nw.col("knr").cum_count().over("knr", order_by=order).cast(nw.Int64) - 1,
        t_offset_seconds=seconds_between(nw.col("ts"), nw.col("ts").min().over("knr")),
        dt_prev_seconds=seconds_between(
            nw.col("ts"), nw.col("ts").shift(1).over("knr", order_by=order)
        ).fill_null(0.0),
    )
