"""Data: what was ingested and quarantined, how the ETL runs and checks went; upload and retrain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import polars as pl
import streamlit as st

from roadtest.dashboard import charts, data, ui
from roadtest.dashboard.api_client import ApiClient, ApiRefusedError, ApiUnavailableError
from roadtest.dashboard.i18n import fmt_int
from roadtest.dashboard.sources import SourceUnavailableError

MODEL_CHOICES: Final = ("gru", "lstm", "gbm", "logreg")
RUN_KEY: Final = "training_run_id"


def render(ctx: ui.Context) -> None:
    """The page."""
    st.title(ctx.t("data.title"))
    st.caption(ctx.t("data.caption"))
    tabs = st.tabs([ctx.t("data.tab_ingestion"), ctx.t("data.tab_etl"), ctx.t("data.tab_actions")])
    with tabs[0]:
        ui.guarded(ctx, _ingestion)
    with tabs[1]:
        ui.guarded(ctx, _etl)
    with tabs[2]:
        _actions(ctx)


def _ingestion(ctx: ui.Context) -> None:
    lake_uri = ctx.settings.resolved_lake_uri()
    manifest = ui.manifest(lake_uri, ctx.settings)
    if manifest.height == 0:
        raise SourceUnavailableError("empty.no_lake")
    cols = st.columns(4)
    cols[0].metric(ctx.t("data.files"), fmt_int(manifest.height, ctx.lang))
    cols[1].metric(
        ctx.t("data.rejected_files"),
        fmt_int(int((manifest["outcome"] == "rejected").sum()), ctx.lang),
    )
    cols[2].metric(ctx.t("data.rows_bronze"), fmt_int(int(manifest["rows_bronze"].sum()), ctx.lang))
    cols[3].metric(
        ctx.t("data.rows_quarantined"), fmt_int(int(manifest["rows_quarantined"].sum()), ctx.lang)
    )
    st.plotly_chart(
        charts.ingestion_bars(
            data.ingestion_by_day(manifest),
            {
                "title": ctx.t("data.by_day"),
                "bronze": ctx.t("col.rows_bronze"),
                "quarantined": ctx.t("col.rows_quarantined"),
            },
        ),
        key="ingestion_bars",
    )
    ui.show_table(
        ctx,
        data.ingestion_history(manifest).select(
            "received_at",
            "file_name",
            "table",
            "outcome",
            "rows_read",
            "rows_bronze",
            "rows_quarantined",
            "reason",
            "size_bytes",
        ),
        key="manifest",
    )
    st.subheader(ctx.t("data.quarantine"))
    summary = data.quarantine_summary(ui.quarantine(lake_uri, ctx.settings))
    if summary.height == 0:
        st.success(ctx.t("data.no_quarantine"))
    else:
        ui.show_table(ctx, summary, key="quarantine")


def _etl(ctx: ui.Context) -> None:
    runs = ui.table_of(ctx, "etl_run")
    if runs.height == 0:
        raise SourceUnavailableError("empty.no_warehouse")
    ordered = runs.sort("started_at", descending=True)
    ui.show_table(
        ctx,
        ordered.select(
            "started_at",
            "outcome",
            "engine",
            "vehicles_affected",
            "vehicles_labelled",
            "checks_passed",
            "checks_failed",
            "message",
            "run_id",
        ),
        key="etl_runs",
    )
    latest = data.latest_run(runs)
    run_ids = ordered["run_id"].to_list()
    chosen = st.selectbox(
        ctx.t("data.choose_run"),
        run_ids,
        index=run_ids.index(latest) if latest in run_ids else 0,
        key="etl_run",
    )
    checks = data.checks_of_run(ui.table_of(ctx, "dq_check"), chosen)
    failed = checks.filter(~pl.col("passed"))
    if checks.height == 0:
        st.info(ctx.t("data.no_checks"))
    elif failed.height:
        st.warning(ctx.t("data.checks_failed", failed=failed.height, total=checks.height))
    else:
        st.success(ctx.t("data.checks_passed", total=checks.height))
    ui.show_table(ctx, checks.drop("run_id"), key="dq_checks")


def _client(ctx: ui.Context, typed_key: str) -> ApiClient:
    configured = ctx.settings.api_key.get_secret_value() if ctx.settings.api_key else None
    return ApiClient.connect(ctx.settings.api_url, typed_key or configured)


def _actions(ctx: ui.Context) -> None:
    st.caption(ctx.t("data.actions_note", url=ctx.settings.api_url))
    typed_key = ""
    if ctx.settings.api_key is None:
        typed_key = st.text_input(ctx.t("data.api_key"), type="password", key="api_key")
    st.subheader(ctx.t("data.upload"))
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            ctx.t("data.upload_files"),
            type=["xlsx", "csv", "parquet"],
            accept_multiple_files=True,
            key="uploads",
        )
        send = st.form_submit_button(ctx.t("data.upload_send"), icon=":material/upload:")
    if send:
        if not files:
            st.warning(ctx.t("data.upload_none"))
        else:
            _call(
                ctx,
                typed_key,
                lambda c: c.ingest([(f.name, f.getvalue()) for f in files]),
                _show_ingest,
            )
    st.subheader(ctx.t("data.retrain"))
    with st.form("retrain"):
        models = st.multiselect(
            ctx.t("data.models"), MODEL_CHOICES, default=list(MODEL_CHOICES), key="models"
        )
        start = st.form_submit_button(ctx.t("data.retrain_start"), icon=":material/model_training:")
    if start:
        _call(ctx, typed_key, lambda c: c.start_training(models or None), _remember_run)
    run_id = st.session_state.get(RUN_KEY)
    if run_id:
        st.button(ctx.t("data.retrain_refresh"), icon=":material/refresh:", key="run_refresh")
        _call(ctx, typed_key, lambda c: c.training_run(run_id), _show_run)


Answer = dict[str, Any]


def _call(
    ctx: ui.Context,
    typed_key: str,
    request: Callable[[ApiClient], Answer],
    show: Callable[[ui.Context, Answer], None],
) -> None:
    """Make one API request and show its answer, or why there is none."""
    client = _client(ctx, typed_key)
    try:
        with st.spinner(ctx.t("data.waiting_api")):
            answer = request(client)
    except ApiUnavailableError as error:
        st.error(ctx.t("error.api_down", url=ctx.settings.api_url, detail=str(error)))
        return
    except ApiRefusedError as error:
        key = "error.api_key" if error.status in (401, 403) else "error.api_refused"
        st.error(ctx.t(key, status=error.status, detail=error.detail))
        return
    finally:
        client.close()
    show(ctx, answer)


def _show_ingest(ctx: ui.Context, answer: dict[str, Any]) -> None:
    ingest, etl = answer["ingest"], answer["etl"]
    message = ctx.t(
        "data.upload_done",
        files=len(ingest["files"]),
        bronze=fmt_int(sum(f["rows_bronze"] for f in ingest["files"]), ctx.lang),
        quarantined=fmt_int(sum(f["rows_quarantined"] for f in ingest["files"]), ctx.lang),
        etl=etl["message"],
    )
    if ingest["ok"] and etl["ok"]:
        st.success(message)
        st.cache_data.clear()
    else:
        st.warning(message)
    ui.show_table(
        ctx,
        pl.DataFrame(ingest["files"]).select(
            "name", "table", "outcome", "rows_read", "rows_bronze", "rows_quarantined", "reason"
        ),
        key="upload_result",
    )


def _remember_run(ctx: ui.Context, answer: dict[str, Any]) -> None:
    st.session_state[RUN_KEY] = answer["id"]
    st.success(ctx.t("data.retrain_started", run=answer["id"]))


def _show_run(ctx: ui.Context, answer: dict[str, Any]) -> None:
    state = answer["state"]
    text = ctx.t(f"data.run_{state}", run=answer["id"], version=answer.get("model_version") or "–")
    if state == "failed":
        st.error(f"{text} {answer.get('error') or ''}")
    elif state == "succeeded":
        st.success(text)
    else:
        st.info(text)
    steps = answer.get("progress") or {}
    for step, progress in steps.items():
        total = progress.get("total") or 0
        share = 1.0 if progress.get("finished") else (progress["done"] / total if total else 0.0)
        st.progress(min(share, 1.0), text=step)
