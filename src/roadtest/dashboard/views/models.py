"""Models: the champion and its history, versions compared, one version in depth, live and drift."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from roadtest.dashboard import charts, data, ui
from roadtest.dashboard.i18n import fmt_float, fmt_int, fmt_pct, fmt_time
from roadtest.dashboard.sources import SourceUnavailableError
from roadtest.monitor import drift
from roadtest.training.evaluate import Evaluation, evaluate_scores
from roadtest.training.registry import MODEL_NAME

RECENT_DEFAULT = 200


def render(ctx: ui.Context) -> None:
    """The page."""
    st.title(ctx.t("models.title"))
    st.caption(ctx.t("models.caption"))
    ui.guarded(ctx, _body)


def _body(ctx: ui.Context) -> None:
    records = ui.versions_of(ctx)
    if not records:
        raise SourceUnavailableError("empty.no_versions")
    table = data.versions_table(records)
    champion = next((r for r in records if r.champion), None)
    _champion(ctx, champion)
    tabs = st.tabs(
        [
            ctx.t("models.tab_versions"),
            ctx.t("models.tab_version"),
            ctx.t("models.tab_live"),
            ctx.t("models.tab_drift"),
        ]
    )
    with tabs[0]:
        ui.guarded(ctx, lambda c: _versions(c, table))
    with tabs[1]:
        ui.guarded(ctx, lambda c: _version(c, records, champion))
    with tabs[2]:
        ui.guarded(ctx, _live)
    with tabs[3]:
        ui.guarded(ctx, lambda c: _drift(c, records, champion))


def _champion(ctx: ui.Context, champion: data.VersionRecord | None) -> None:
    if champion is None:
        st.warning(ctx.t("empty.no_champion"), icon=":material/warning:")
    else:
        own = data.version_metrics(champion.metrics, champion.kind)
        cols = st.columns(4)
        cols[0].metric(ctx.t("models.champion"), f"v{champion.version} ({champion.kind})")
        cols[1].metric("PR-AUC", fmt_float(own.get("pr_auc"), ctx.lang, 3))
        cols[2].metric("ROC-AUC", fmt_float(own.get("roc_auc"), ctx.lang, 3))
        cols[3].metric(ctx.t("models.recall_20"), fmt_pct(own.get("recall_at_20pct"), ctx.lang))
        if champion.promotion_reason:
            st.caption(champion.promotion_reason)
    st.subheader(ctx.t("models.activations"))
    activations = ui.table_of(ctx, "model_activation").filter(pl.col("model_name") == MODEL_NAME)
    if activations.height == 0:
        st.info(ctx.t("models.no_activations"))
        return
    ui.show_table(ctx, data.activation_history(activations, datetime.now(UTC)), key="activations")


def _versions(ctx: ui.Context, table: pl.DataFrame) -> None:
    st.plotly_chart(
        charts.metric_lines(
            table,
            {
                "pr_auc": "PR-AUC",
                "roc_auc": "ROC-AUC",
                "recall_at_20pct": ctx.t("models.recall_20"),
            },
            ctx.t("models.metrics_title"),
        ),
        key="metric_lines",
    )
    ui.show_table(ctx, table.sort("created_at", descending=True), key="versions")


def _version(
    ctx: ui.Context, records: list[data.VersionRecord], champion: data.VersionRecord | None
) -> None:
    names = [r.version for r in records]
    default = names.index(champion.version) if champion else len(names) - 1
    version = st.selectbox(
        ctx.t("models.choose_version"),
        names,
        index=default,
        format_func=lambda v: f"v{v}",
        key="version",
    )
    record = next(r for r in records if r.version == version)
    own = data.version_metrics(record.metrics, record.kind)
    window = drift.split_window(record.params, "test")
    if window is not None:
        st.caption(
            ctx.t(
                "models.test_window",
                start=fmt_time(window[0], ctx.lang),
                end=fmt_time(window[1], ctx.lang),
                vehicles=fmt_int(int(own.get("n_vehicles", 0)), ctx.lang),
                failed=fmt_int(int(own.get("n_failed", 0)), ctx.lang),
                threshold=fmt_float(own.get("threshold"), ctx.lang, 4),
            )
        )
    matrix = data.confusion_matrix(own)
    left, right = st.columns(2)
    if matrix is not None:
        left.plotly_chart(
            charts.confusion(
                matrix,
                {
                    "title": ctx.t("models.confusion"),
                    "pred_pass": ctx.t("models.pred_pass"),
                    "pred_fail": ctx.t("models.pred_fail"),
                    "passed": ctx.t("models.passed"),
                    "failed": ctx.t("models.failed"),
                },
            ),
            key="confusion",
        )
    right.dataframe(
        pl.DataFrame({ctx.t("col.metric"): list(own), ctx.t("col.value"): list(own.values())}),
        hide_index=True,
        key="version_metrics",
    )
    threshold = own.get("threshold")
    if window is None or threshold is None:
        st.info(ctx.t("models.no_window"))
        return
    _curves(ctx, _evaluate_on_window(ctx, version, window, threshold))


def _evaluate_on_window(
    ctx: ui.Context, version: str, window: tuple[datetime, datetime], threshold: float
) -> Evaluation:
    """The version's scores of its own test vehicles, evaluated at its threshold."""
    labels = drift.labels_in_window(ui.table_of(ctx, "vehicle_label"), window)
    if labels.height == 0:
        raise SourceUnavailableError("models.window_gone")
    knrs = tuple(sorted(labels["knr"].to_list()))
    scored = ui.scores(ctx.warehouse_url, ctx.tracking_uri, version, knrs)
    joined = scored.join(labels.select("knr", "road_test_failed"), on="knr")
    return evaluate_scores(
        joined["road_test_failed"].cast(pl.Int64).to_numpy(),
        joined["probability"].to_numpy(),
        threshold,
    )


def _curves(ctx: ui.Context, evaluation: Evaluation) -> None:
    st.caption(ctx.t("models.curves_note"))
    first, second = st.columns(2)
    if evaluation.roc.fpr.size:
        first.plotly_chart(
            charts.roc(
                evaluation,
                {"title": "ROC", "x": ctx.t("models.fpr"), "y": ctx.t("models.tpr")},
            ),
            key="roc",
        )
    if evaluation.pr.recall.size:
        second.plotly_chart(
            charts.precision_recall(
                evaluation,
                {
                    "title": ctx.t("models.pr"),
                    "x": ctx.t("models.recall"),
                    "y": ctx.t("models.precision"),
                },
            ),
            key="pr",
        )
    first, second = st.columns(2)
    first.plotly_chart(
        charts.calibration(
            evaluation,
            {
                "title": ctx.t("models.calibration"),
                "x": ctx.t("models.mean_predicted"),
                "y": ctx.t("models.observed_rate"),
            },
        ),
        key="calibration",
    )
    second.plotly_chart(
        charts.recall_at_budget(
            evaluation,
            {
                "title": ctx.t("models.budget_curve"),
                "x": ctx.t("planning.budget_axis"),
                "y": ctx.t("models.caught"),
            },
        ),
        key="budget_curve",
    )


def _live(ctx: ui.Context) -> None:
    predictions = ui.table_of(ctx, "predictions")
    if predictions.height == 0:
        raise SourceUnavailableError("empty.no_predictions")
    labels = ui.table_of(ctx, "vehicle_label")
    live = drift.live_predictions(predictions, labels)
    waiting = data.awaiting_outcome(predictions, labels)
    st.caption(ctx.t("models.live_note"))
    if live.height == 0:
        st.info(ctx.t("models.no_live"))
    else:
        performance = data.live_performance(live).join(waiting, on="model_version", how="left")
        ui.show_table(
            ctx,
            performance,
            key="live_performance",
            percent=(
                "failure_rate",
                "mean_probability",
                "recall_at_budget",
                "flagged_share",
                "flagged_recall",
            ),
        )
        st.plotly_chart(
            charts.live_calibration(
                data.live_over_time(live),
                {
                    "title": ctx.t("models.live_title"),
                    "observed": ctx.t("models.observed"),
                    "predicted": ctx.t("models.predicted"),
                    "y": ctx.t("quality.failure_rate_pct"),
                },
            ),
            key="live_over_time",
        )
    if waiting.height:
        ui.show_table(ctx, waiting, key="awaiting_outcome")


def _drift(
    ctx: ui.Context, records: list[data.VersionRecord], champion: data.VersionRecord | None
) -> None:
    record = champion or records[-1]
    window = drift.split_window(record.params, "train")
    if window is None:
        raise SourceUnavailableError("models.no_window")
    features = ui.table_of(ctx, "mart_vehicle_features")
    labels = ui.table_of(ctx, "vehicle_label", ["knr", "road_test_start_at"])
    reference = features.join(drift.labels_in_window(labels, window).select("knr"), on="knr")
    count = st.slider(
        ctx.t("models.recent_count"),
        min_value=10,
        max_value=max(10, features.height),
        value=min(RECENT_DEFAULT, max(10, features.height)),
        key="recent_count",
    )
    recent = drift.recent_vehicles(features, count)
    st.caption(
        ctx.t(
            "models.drift_note",
            version=record.version,
            reference=fmt_int(reference.height, ctx.lang),
            recent=fmt_int(recent.height, ctx.lang),
        )
    )
    if reference.height == 0:
        raise SourceUnavailableError("models.window_gone")
    table = data.drift_table(reference, recent)
    levels = table.with_columns(
        pl.col("level").map_elements(lambda v: ctx.t(f"models.level.{v}"), return_dtype=pl.String)
    )
    ui.show_table(ctx, levels, key="drift", percent=("reference_missing", "recent_missing"))
    feature = st.selectbox(ctx.t("models.feature"), table["feature"].to_list(), key="drift_feature")
    st.plotly_chart(
        charts.distributions(
            reference[feature],
            recent[feature],
            {
                "title": feature,
                "reference": ctx.t("models.reference"),
                "recent": ctx.t("models.recent"),
                "y": ctx.t("models.share_pct"),
            },
        ),
        key="drift_chart",
    )
