"""Road-test planning: which awaiting cars get the full road test, and what to check on each."""

from __future__ import annotations

import polars as pl
import streamlit as st

from roadtest.dashboard import charts, data, ui
from roadtest.dashboard.i18n import checks_in, fmt_float, fmt_int, fmt_pct, group_name
from roadtest.dashboard.sources import SourceUnavailableError

VEHICLE_URL = "/vehicle?knr="


def render(ctx: ui.Context) -> None:
    """The page."""
    st.title(ctx.t("planning.title"))
    st.caption(ctx.t("planning.caption"))
    ui.guarded(ctx, _body)


def _body(ctx: ui.Context) -> None:
    features = ui.table_of(
        ctx, "mart_vehicle_features", ["knr", "as_of", "labelled", "modelo", "cor", "motor"]
    )
    awaiting = data.awaiting_vehicles(features)
    if awaiting.height == 0:
        raise SourceUnavailableError(
            "empty.no_awaiting", vehicles=fmt_int(features.height, ctx.lang)
        )
    champion = ui.champion_of(ctx)
    if champion is None:
        raise SourceUnavailableError("empty.no_champion")
    knrs = tuple(awaiting.get_column("knr").to_list())
    scored = ui.scores(ctx.warehouse_url, ctx.tracking_uri, champion.version, knrs)
    scored = scored.join(awaiting.select("knr", "as_of", "modelo", "cor", "motor"), on="knr")
    budget_pct = st.slider(
        ctx.t("planning.budget"),
        min_value=1,
        max_value=100,
        value=int(data.DEFAULT_BUDGET * 100),
        step=1,
        format="%d %%",
        key="budget",
        help=ctx.t("planning.budget_help"),
    )
    budget = budget_pct / 100
    plan = data.groups_to_check(data.plan_inspections(scored, budget))
    summary = data.summarise_plan(plan, budget)
    _headline(ctx, summary, champion.version)
    left, right = st.columns(2)
    left.plotly_chart(
        charts.risk_bars(
            plan,
            {
                "title": ctx.t("planning.chart_risk"),
                "full": ctx.t("planning.full_test"),
                "short": ctx.t("planning.short_test"),
                "x": ctx.t("planning.rank"),
                "y": ctx.t("planning.risk_pct"),
            },
        ),
        key="risk_bars",
    )
    right.plotly_chart(
        charts.capture_curve(
            data.expected_capture_curve(plan.get_column("probability")),
            budget,
            {
                "title": ctx.t("planning.chart_capture"),
                "model": ctx.t("planning.by_risk"),
                "random": ctx.t("planning.random"),
                "x": ctx.t("planning.budget_axis"),
                "y": ctx.t("planning.caught_axis"),
            },
        ),
        key="capture_curve",
    )
    only_full = st.toggle(ctx.t("planning.only_full"), value=True, key="only_full")
    shown = plan.filter(pl.col("full_test")) if only_full else plan
    table = _display(ctx, shown)
    st.dataframe(
        table,
        hide_index=True,
        key="plan_table",
        column_config={
            ctx.t("col.knr"): st.column_config.LinkColumn(
                ctx.t("col.knr"), display_text=r"knr=([^&]*)"
            ),
            ctx.t("col.risk"): st.column_config.ProgressColumn(
                ctx.t("col.risk"), format="percent", min_value=0.0, max_value=1.0
            ),
        },
    )
    st.download_button(
        ctx.t("planning.download"),
        data=data.plan_csv(_display(ctx, plan, links=False)),
        file_name=f"road_test_plan_{budget_pct}pct.csv",
        mime="text/csv",
        icon=":material/download:",
        key="download_plan",
    )
    st.caption(ctx.t("planning.formula"))


def _headline(ctx: ui.Context, summary: data.PlanSummary, version: str) -> None:
    cols = st.columns(4)
    cols[0].metric(ctx.t("planning.awaiting"), fmt_int(summary.awaiting, ctx.lang))
    cols[1].metric(ctx.t("planning.full_tests"), fmt_int(summary.full_test, ctx.lang))
    cols[2].metric(
        ctx.t("planning.expected_share"),
        fmt_pct(summary.expected_share, ctx.lang),
        help=ctx.t("planning.expected_share_help"),
    )
    cols[3].metric(
        ctx.t("planning.expected_failures"),
        " / ".join(
            fmt_float(value, ctx.lang)
            for value in (summary.expected_caught, summary.expected_failures)
        ),
        help=ctx.t("planning.expected_failures_help"),
    )
    st.caption(ctx.t("planning.scored_by", version=version))


def _display(ctx: ui.Context, plan: pl.DataFrame, links: bool = True) -> pl.DataFrame:
    """The planning list with translated headers, group names and checks."""
    groups = [
        ", ".join(group_name(g, ctx.lang) for g in row) for row in plan["check_groups"].to_list()
    ]
    checks = [
        [check for g in row for check in checks_in(g, ctx.lang)]
        for row in plan["check_groups"].to_list()
    ]
    url = pl.lit(VEHICLE_URL) + pl.col("knr") + pl.lit(f"&lang={ctx.lang}")
    knr = url if links else pl.col("knr")
    return plan.select(
        pl.col("rank").alias(ctx.t("col.rank")),
        knr.alias(ctx.t("col.knr")),
        pl.col("probability").alias(ctx.t("col.risk")),
        pl.col("full_test").alias(ctx.t("col.full_test")),
        pl.Series(ctx.t("col.groups"), groups, dtype=pl.String),
        pl.Series(ctx.t("col.checks"), checks, dtype=pl.List(pl.String)),
        pl.col("expected_share_caught").alias(ctx.t("col.cumulative_caught")),
        pl.col("motor").alias(ctx.t("col.motor")),
        pl.col("cor").alias(ctx.t("col.cor")),
        pl.col("as_of").alias(ctx.t("col.last_data")),
    )
