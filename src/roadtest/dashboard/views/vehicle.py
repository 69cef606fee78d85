"""Vehicle: one car's passages, test results and defects, its prediction and its outcome."""

from __future__ import annotations

import polars as pl
import streamlit as st

from roadtest.contracts.partner import KNR_PATTERN
from roadtest.dashboard import charts, data, ui
from roadtest.dashboard.i18n import checks_in, fmt_int, fmt_pct, fmt_time, group_name
from roadtest.dashboard.sources import SourceUnavailableError

KNR_KEY = "knr"
HIGHLIGHT_COLUMNS = (
    "data",
    "name",
    "value_id",
    "status",
    "value",
    "unit",
    "is_nok",
    "is_rework",
    "zone_at_result",
)
DEFECT_COLUMNS = (
    "data",
    "halle",
    "falha",
    "s_group",
    "estacao",
    "is_road_test_defect",
    "before_road_test",
)
PASSAGE_COLUMNS = ("data", "status_code", "zone", "gap_seconds", "is_negative_gap")


def render(ctx: ui.Context) -> None:
    """The page."""
    st.title(ctx.t("vehicle.title"))
    st.caption(ctx.t("vehicle.caption"))
    knr = st.text_input(
        ctx.t("vehicle.search"),
        key=KNR_KEY,
        placeholder="2024-0354224",
        bind="query-params",
    ).strip()
    if not knr:
        st.info(ctx.t("vehicle.hint"), icon=":material/search:")
        return
    if not KNR_PATTERN.fullmatch(knr):
        st.warning(ctx.t("vehicle.bad_knr", knr=knr), icon=":material/warning:")
        return
    ui.guarded(ctx, lambda c: _body(c, knr))


def _body(ctx: ui.Context, knr: str) -> None:
    rows = {
        name: ui.vehicle_rows(ctx.warehouse_url, name, (knr,))
        for name in (
            "dim_vehicle",
            "fact_zone_passage",
            "fact_test_result",
            "fact_defect",
            "vehicle_label",
            "predictions",
        )
    }
    vehicle = rows["dim_vehicle"]
    if vehicle.height == 0:
        raise SourceUnavailableError("vehicle.unknown", knr=knr)
    passages, results, defects = (
        rows["fact_zone_passage"],
        rows["fact_test_result"],
        rows["fact_defect"],
    )
    _header(
        ctx, vehicle.row(0, named=True), data.vehicle_facts(vehicle, results, passages, defects)
    )
    left, right = st.columns(2)
    with left:
        st.subheader(ctx.t("vehicle.prediction"))
        ui.guarded(ctx, lambda c: _prediction(c, knr, vehicle, rows["predictions"]))
    with right:
        st.subheader(ctx.t("vehicle.outcome"))
        _outcome(ctx, data.vehicle_outcome(rows["vehicle_label"]))
    st.subheader(ctx.t("vehicle.timeline"))
    st.plotly_chart(
        charts.timeline(data.vehicle_timeline(passages, results, defects), _timeline_labels(ctx)),
        key="timeline",
    )
    tabs = st.tabs(
        [
            ctx.t("vehicle.tab_highlights"),
            ctx.t("vehicle.tab_defects"),
            ctx.t("vehicle.tab_passages"),
        ]
    )
    with tabs[0]:
        highlights = data.result_highlights(results)
        if highlights.height == 0:
            st.success(ctx.t("vehicle.no_highlights"))
        ui.show_table(ctx, highlights.select(HIGHLIGHT_COLUMNS), key="highlights")
    with tabs[1]:
        ui.show_table(ctx, defects.sort("data").select(DEFECT_COLUMNS), key="defects")
    with tabs[2]:
        ui.show_table(ctx, passages.sort("data").select(PASSAGE_COLUMNS), key="passages")


def _header(ctx: ui.Context, vehicle: dict[str, object], facts: data.VehicleFacts) -> None:
    st.markdown(
        ctx.t(
            "vehicle.header",
            knr=vehicle["knr"],
            modelo=vehicle["modelo"] or "–",
            cor=vehicle["cor"] or "–",
            motor=vehicle["motor"] or "–",
        )
    )
    cols = st.columns(5)
    cols[0].metric(ctx.t("vehicle.results"), fmt_int(facts.results, ctx.lang))
    cols[1].metric(ctx.t("vehicle.nok"), fmt_int(facts.nok, ctx.lang))
    cols[2].metric(ctx.t("vehicle.reworks"), fmt_int(facts.reworks, ctx.lang))
    cols[3].metric(ctx.t("vehicle.earlier_defects"), fmt_int(facts.earlier_defects, ctx.lang))
    cols[4].metric(
        ctx.t("vehicle.chain"),
        ctx.t("common.yes") if facts.complete_chain else ctx.t("common.no"),
    )


def _prediction(ctx: ui.Context, knr: str, vehicle: pl.DataFrame, stored: pl.DataFrame) -> None:
    champion = ui.champion_of(ctx)
    if champion is None:
        raise SourceUnavailableError("empty.no_champion")
    scored = ui.scores(ctx.warehouse_url, ctx.tracking_uri, champion.version, (knr,))
    if scored.height == 0:
        st.info(ctx.t("vehicle.no_features"))
    else:
        row = data.groups_to_check(scored).row(0, named=True)
        st.metric(
            ctx.t("vehicle.risk", version=champion.version),
            fmt_pct(row["probability"], ctx.lang),
            help=ctx.t("vehicle.risk_help"),
        )
        st.markdown(
            ctx.t("vehicle.decision_full") if row["decision"] else ctx.t("vehicle.decision_short")
        )
        for group in row["check_groups"]:
            st.markdown(f"**{group_name(group, ctx.lang)}**")
            st.markdown("\n".join(f"- {check}" for check in checks_in(group, ctx.lang)))
    if stored.height:
        st.caption(ctx.t("vehicle.stored_predictions"))
        ui.show_table(
            ctx,
            stored.sort("predicted_at", descending=True).select(
                "predicted_at", "model_version", "probability", "decision", "features_as_of"
            ),
            key="stored_predictions",
        )


def _outcome(ctx: ui.Context, outcome: data.VehicleOutcome | None) -> None:
    if outcome is None:
        st.info(ctx.t("vehicle.awaiting"))
        return
    when = fmt_time(outcome.road_test_start_at, ctx.lang)
    if outcome.failed:
        groups = ", ".join(group_name(g, ctx.lang) for g in outcome.groups) or "–"
        badge = f":red-badge[:material/cancel: {ctx.t('vehicle.failed_badge')}]"
        text = ctx.t("vehicle.failed", when=when, defects=outcome.rod_defects, groups=groups)
    else:
        badge = f":green-badge[:material/check_circle: {ctx.t('vehicle.passed_badge')}]"
        text = ctx.t("vehicle.passed", when=when)
    st.markdown(f"{badge} {text}")


def _timeline_labels(ctx: ui.Context) -> dict[str, str]:
    keys = ["lane.zone", "lane.result", "lane.defect"]
    keys += [f"kind.{kind}" for kind in charts.TIMELINE_STYLE]
    labels = {key: ctx.t(f"vehicle.{key}") for key in keys}
    return {**labels, "title": "", "x": ctx.t("vehicle.time")}
