"""System health: the API, warehouse, lake and registry checked now, and the recorded history."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from roadtest.dashboard import charts, data, sources, ui
from roadtest.dashboard.api_client import ApiClient
from roadtest.dashboard.i18n import fmt_float, fmt_time, has_text
from roadtest.monitor.checks import Check, CheckFailedError


def render(ctx: ui.Context) -> None:
    """The page."""
    st.title(ctx.t("health.title"))
    st.caption(ctx.t("health.caption"))
    if st.button(ctx.t("health.check_now"), icon=":material/refresh:", key="check_now"):
        st.cache_data.clear()
    checks = live_checks(ctx)
    st.caption(ctx.t("health.checked_at", when=fmt_time(_latest(checks), ctx.lang)))
    cols = st.columns(checks.height)
    for col, row in zip(cols, checks.iter_rows(named=True), strict=True):
        col.metric(
            ctx.t(f"health.service.{row['service']}"),
            ctx.t("health.ok") if row["ok"] else ctx.t("health.down"),
            f"{fmt_float(row['latency_ms'], ctx.lang, 0)} ms",
            delta_color="off",
            delta_arrow="off",
            border=True,
        )
    shown = checks.with_columns(
        pl.col("detail").map_elements(
            lambda d: ctx.t(d) if has_text(d) else d, return_dtype=pl.String
        )
    )
    ui.show_table(ctx, shown, key="live_checks")
    st.subheader(ctx.t("health.history"))
    ui.guarded(ctx, _history)


def _latest(checks: pl.DataFrame) -> datetime | None:
    value = checks["checked_at"].max()
    return value if isinstance(value, datetime) else None


def _earliest(checks: pl.DataFrame) -> datetime | None:
    value = checks["checked_at"].min()
    return value if isinstance(value, datetime) else None


def live_checks(ctx: ui.Context) -> pl.DataFrame:
    """API liveness and readiness, then the stores as the pages read them, checked now."""
    client = ApiClient.connect(ctx.settings.api_url)
    try:

        def api() -> str:
            return str(client.health().get("status", ""))

        def ready() -> str:
            body = client.ready()
            if not body.get("ready"):
                down = [k for k, v in (body.get("checks") or {}).items() if not v.get("ok")]
                raise CheckFailedError(ctx.t("health.not_ready", checks=", ".join(down) or "?"))
            return ctx.t("health.serving", version=body.get("model_version") or "–")

        checks = [Check("api", api), Check("api_ready", ready)]
        return sources.run_live_checks(checks + sources.store_checks(ctx.settings))
    finally:
        client.close()


def _history(ctx: ui.Context) -> None:
    history = ui.health_history(ctx.warehouse_url)
    if history is None:
        st.info(ctx.t("health.no_history_table"))
        return
    if history.height == 0:
        st.info(ctx.t("health.no_history"))
        return
    ui.show_table(ctx, data.health_summary(history), key="health_summary", percent=("ok_share",))
    st.plotly_chart(
        charts.latency(
            history,
            {"title": ctx.t("health.latency"), "y": "ms", "failed": ctx.t("health.failed_check")},
        ),
        key="latency",
    )
    recent = history.sort("checked_at", descending=True).head(50)
    ui.show_table(ctx, recent, key="health_recent")
    st.caption(
        ctx.t(
            "health.history_span",
            first=fmt_time(_earliest(history), ctx.lang),
            last=fmt_time(_latest(history), ctx.lang),
        )
    )
