"""Expressions that give identical results on Polars, DuckDB and PySpark.

narwhals covers most of the lazy API on all three engines, but a few pieces
differ or are missing there: duration → seconds and ``dt.timestamp`` are not
implemented on Spark/DuckDB, and Spark's ``dt.weekday`` returns 0 for Sundays.
Time arithmetic is therefore done on an exact integer epoch built from
calendar parts, which every engine computes the same way.

Expressions are kept small on purpose: on Spark each node of an expression is
a Python→JVM round trip when the plan is built, which dominated its run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import narwhals as nw

US_PER_SECOND = 1_000_000


def _int(expr: nw.Expr) -> nw.Expr:
    # Calendar parts come back as Int8/Int16/Int32 depending on the engine; widen
    # before multiplying so nothing overflows.
    return expr.cast(nw.Int64)


def _floor_div(numerator: nw.Expr, denominator: int) -> nw.Expr:
    # Exact for the small integers used here, and a far smaller expression on
    # Spark than narwhals' general ``//`` (which guards against division by zero).
    return (numerator / denominator).floor().cast(nw.Int64)


def epoch_days(column: str) -> nw.Expr:
    """Days since 1970-01-01 of a naive datetime column (years 1601 and later)."""
    year = _int(nw.col(column).dt.year())
    leap_days = (
        _floor_div(year - 1969, 4) - _floor_div(year - 1901, 100) + _floor_div(year - 1601, 400)
    )
    return (year - 1970) * 365 + leap_days + _int(nw.col(column).dt.ordinal_day()) - 1


def epoch_us(column: str) -> nw.Expr:
    """Microseconds since 1970-01-01 00:00 of a naive datetime column, as Int64."""
    dt = nw.col(column).dt
    seconds = (
        epoch_days(column) * 86_400
        + _int(dt.hour()) * 3_600
        + _int(dt.minute()) * 60
        + _int(dt.second())
    )
    return seconds * US_PER_SECOND + _int(dt.microsecond())


def seconds_between(later: nw.Expr, earlier: nw.Expr) -> nw.Expr:
    """Seconds from ``earlier`` to ``later``, both epoch-microsecond expressions (Float64)."""
    return ((later - earlier) / US_PER_SECOND).cast(nw.Float64)


def _iso_year_code(year: str) -> nw.Expr:
    # 0–6; a year has 53 ISO weeks when this is 4 for it or 3 for the year before.
    y = nw.col(year)
    return (y + _floor_div(y, 4) - _floor_div(y, 100) + _floor_div(y, 400)) % 7


def with_calendar(frame: nw.LazyFrame, column: str) -> nw.LazyFrame:
    """``frame`` plus year, quarter, month, ISO week and ISO weekday of date ``column``.

    Computed step by step on named columns rather than as one nested expression:
    on Spark every expression node is a round trip to the JVM.
    """
    return (
        frame.with_columns(
            year=_int(nw.col(column).dt.year()),
            month=_int(nw.col(column).dt.month()),
            _doy=_int(nw.col(column).dt.ordinal_day()),
            _days=epoch_days(column),
        )
        .with_columns(
            quarter=_floor_div(nw.col("month") - 1, 3) + 1,
            # 1970-01-01 was a Thursday (ISO weekday 4).
            weekday=(nw.col("_days") + 3) % 7 + 1,
            _prev_year=nw.col("year") - 1,
            _prev_prev_year=nw.col("year") - 2,
        )
        .with_columns(
            _week=_floor_div(nw.col("_doy") - nw.col("weekday") + 10, 7),
            _p=_iso_year_code("year"),
            _p_prev=_iso_year_code("_prev_year"),
            _p_prev_prev=_iso_year_code("_prev_prev_year"),
        )
        .with_columns(
            _long=(nw.col("_p") == 4) | (nw.col("_p_prev") == 3),
            _prev_long=(nw.col("_p_prev") == 4) | (nw.col("_p_prev_prev") == 3),
        )
        .with_columns(
            week=nw.when(nw.col("_week") == 0)
            .then(nw.when(nw.col("_prev_long")).then(53).otherwise(52))
            .when((nw.col("_week") == 53) & ~nw.col("_long"))
            .then(1)
            .otherwise(nw.col("_week"))
        )
        .drop(
            "_doy",
            "_days",
            "_prev_year",
            "_prev_prev_year",
            "_week",
            "_p",
            "_p_prev",
            "_p_prev_prev",
            "_long",
            "_prev_long",
        )
    )


def as_int(predicate: nw.Expr) -> nw.Expr:
    """1 where ``predicate`` holds, else 0 (for counting with ``sum``).

    Left uncast: the integer type of the sum differs per engine, and the final
    ``conform`` casts every column to the contract's type anyway.
    """
    return nw.when(predicate).then(1).otherwise(0)


def lookup(
    column: str | nw.Expr,
    mapping: Mapping[Any, Any],
    default: Any = None,
) -> nw.Expr:
    """``column`` mapped through ``mapping`` (a when/then chain); other values → ``default``."""
    expr = nw.col(column) if isinstance(column, str) else column
    items = list(mapping.items())
    if not items:
        return nw.lit(default)
    key, value = items[0]
    chain = nw.when(expr == key).then(nw.lit(value))
    for key, value in items[1:]:
        chain = chain.when(expr == key).then(nw.lit(value))
    return chain.otherwise(nw.lit(default))
