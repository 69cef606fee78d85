"""Quality analysis: why cars fail the road test, where, and how that changes over time."""

from __future__ import annotations

from typing import cast

import polars as pl
import streamlit as st

from roadtest.dashboard import charts, data, ui
from roadtest.dashboard.i18n import fmt_int, fmt_pct, group_name
from roadtest.dashboard.sources import SourceUnavailableError

PARETO_TOP = 20
ASSOCIATION_ROWS = 15
RESULT_COLUMNS = ("knr", "name", "zone_at_result", "is_nok", "is_rework", "known_before_road_test")


def render(ctx: ui.Context) -> None:
    """The page."""
    st.title(ctx.t("quality.title"))
    st.caption(ctx.t("quality.caption"))
    ui.guarded(ctx, _body)


def _body(ctx: ui.Context) -> None:
    labels = ui.table_of(ctx, "vehicle_label")
    if labels.height == 0:
        raise SourceUnavailableError("empty.no_labels")
    vehicles = ui.table_of(ctx, "dim_vehicle", ["knr", "modelo", "cor", "motor"])
    defects = ui.table_of(ctx, "fact_defect")
    overall = data.overall_failure_rate(labels)
    cols = st.columns(3)
    cols[0].metric(ctx.t("quality.labelled"), fmt_int(labels.height, ctx.lang))
    cols[1].metric(
        ctx.t("quality.failed"), fmt_int(int(labels["road_test_failed"].sum()), ctx.lang)
    )
    cols[2].metric(ctx.t("quality.failure_rate"), fmt_pct(overall, ctx.lang))
    tabs = st.tabs(
        [
            ctx.t("quality.tab_trend"),
            ctx.t("quality.tab_breakdown"),
            ctx.t("quality.tab_pareto"),
            ctx.t("quality.tab_tests"),
            ctx.t("quality.tab_drivers"),
        ]
    )
    with tabs[0]:
        _trend(ctx, labels)
    with tabs[1]:
        _breakdown(ctx, labels, vehicles, defects)
    with tabs[2]:
        _pareto(ctx, defects)
    with tabs[3]:
        ui.guarded(ctx, _test_rates)
    with tabs[4]:
        ui.guarded(ctx, lambda c: _drivers(c, labels, defects))


def _trend(ctx: ui.Context, labels: pl.DataFrame) -> None:
    periods = {
        "1d": ctx.t("quality.day"),
        "1w": ctx.t("quality.week"),
        "1mo": ctx.t("quality.month"),
    }
    every = st.segmented_control(
        ctx.t("quality.period"),
        list(periods),
        default="1w",
        format_func=periods.__getitem__,
        key="period",
    )
    rates = data.failure_rate_over_time(labels, cast(data.Period, every or "1w"))
    st.plotly_chart(
        charts.rate_over_time(
            rates,
            {
                "title": ctx.t("quality.trend_title"),
                "vehicles": ctx.t("quality.vehicles_tested"),
                "rate": ctx.t("quality.failure_rate_pct"),
            },
        ),
        key="trend",
    )


def _breakdown(
    ctx: ui.Context, labels: pl.DataFrame, vehicles: pl.DataFrame, defects: pl.DataFrame
) -> None:
    groups = data.failure_rate_by_group(labels).with_columns(
        pl.col("group").map_elements(lambda g: group_name(g, ctx.lang), return_dtype=pl.String)
    )
    left, right = st.columns(2)
    left.plotly_chart(
        charts.rate_bars(
            groups,
            "group",
            "share_of_vehicles",
            {
                "title": ctx.t("quality.by_group"),
                "x": ctx.t("col.group"),
                "y": ctx.t("quality.failure_rate_pct"),
            },
            colour=charts.RED,
        ),
        key="by_group",
    )
    zones = data.failure_association(
        data.earlier_defect_zones(defects), labels, "halle", min_vehicles=1
    )
    right.plotly_chart(
        charts.rate_bars(
            zones.sort("halle"),
            "halle",
            "failure_rate",
            {
                "title": ctx.t("quality.by_zone"),
                "x": ctx.t("col.halle"),
                "y": ctx.t("quality.failure_rate_pct"),
            },
        ),
        key="by_zone",
    )
    st.caption(
        ctx.t("quality.by_zone_note", overall=fmt_pct(data.overall_failure_rate(labels), ctx.lang))
    )
    left, right = st.columns(2)
    for column, where in (("motor", left), ("cor", right)):
        table = data.failure_rate_by_attribute(labels, vehicles, column)
        where.plotly_chart(
            charts.rate_bars(
                table,
                column,
                "failure_rate",
                {
                    "title": ctx.t(f"quality.by_{column}"),
                    "x": ctx.t(f"col.{column}"),
                    "y": ctx.t("quality.failure_rate_pct"),
                },
            ),
            key=f"by_{column}",
        )
    ui.show_table(ctx, groups, key="groups_table")


def _pareto(ctx: ui.Context, defects: pl.DataFrame) -> None:
    scopes = {
        "road_test": ctx.t("quality.scope_road_test"),
        "before_road_test": ctx.t("quality.scope_before"),
        "all": ctx.t("quality.scope_all"),
    }
    scope = st.radio(
        ctx.t("quality.scope"),
        list(scopes),
        format_func=scopes.__getitem__,
        horizontal=True,
        key="scope",
    )
    chosen = data.defect_scope(defects, cast(data.DefectScope, scope))
    if chosen.height == 0:
        st.info(ctx.t("quality.no_defects"))
        return
    table = data.defect_pareto(chosen, PARETO_TOP)
    st.plotly_chart(
        charts.pareto(
            table,
            {
                "title": ctx.t("quality.pareto_title", count=fmt_int(chosen.height, ctx.lang)),
                "count": ctx.t("col.count"),
                "cumulative": ctx.t("col.cumulative_share"),
            },
        ),
        key="pareto",
    )
    ui.show_table(ctx, table, key="pareto_table", percent=("share", "cumulative_share"))


def _test_rates(ctx: ui.Context) -> None:
    results = ui.table_of(ctx, "fact_test_result", RESULT_COLUMNS)
    if results.height == 0:
        raise SourceUnavailableError("empty.no_results")
    by_zone = data.result_rates_by(results, "zone_at_result")
    st.plotly_chart(
        charts.rate_bars(
            by_zone.sort("zone_at_result"),
            "zone_at_result",
            "nok_rate",
            {
                "title": ctx.t("quality.nok_by_zone"),
                "x": ctx.t("col.zone"),
                "y": ctx.t("quality.nok_rate_pct"),
            },
            colour=charts.RED,
        ),
        key="nok_by_zone",
    )
    ui.show_table(ctx, by_zone, key="zone_rates", percent=("nok_rate", "rework_rate"))
    st.subheader(ctx.t("quality.by_program"))
    ui.show_table(
        ctx,
        data.result_rates_by(results, "name"),
        key="program_rates",
        percent=("nok_rate", "rework_rate"),
    )


def _drivers(ctx: ui.Context, labels: pl.DataFrame, defects: pl.DataFrame) -> None:
    st.caption(ctx.t("quality.drivers_note", minimum=data.MIN_VEHICLES))
    results = ui.table_of(ctx, "fact_test_result", RESULT_COLUMNS)
    left, right = st.columns(2)
    with left:
        st.subheader(ctx.t("quality.programs"))
        programs = data.failure_association(data.nok_programs(results), labels, "name")
        ui.show_table(
            ctx, programs.head(ASSOCIATION_ROWS), key="programs", percent=("failure_rate",)
        )
    with right:
        st.subheader(ctx.t("quality.stations"))
        stations = data.failure_association(data.defect_stations(defects), labels, "estacao")
        ui.show_table(
            ctx, stations.head(ASSOCIATION_ROWS), key="stations", percent=("failure_rate",)
        )
