"""Plotly figures of the dashboard: frames and translated labels in, a figure out.

Colours carry one meaning everywhere: red is a failure or a NOK, orange a
retest or a warning, blue the normal case, grey a reference line.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
import polars as pl

from roadtest.training.evaluate import Evaluation

RED = "#d62728"
ORANGE = "#ff7f0e"
BLUE = "#1f77b4"
GREEN = "#2ca02c"
GREY = "#7f7f7f"
LIGHT_BLUE = "#9ecae1"

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "height": 360}


def _figure(title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title=title, **_LAYOUT)
    return figure


def capture_curve(curve: pl.DataFrame, budget: float, labels: Mapping[str, str]) -> go.Figure:
    """Expected share of failures caught against the budget, with the chosen budget marked."""
    figure = _figure(labels["title"])
    figure.add_scatter(
        x=(curve["budget"] * 100).to_list(),
        y=(curve["share"] * 100).to_list(),
        mode="lines",
        name=labels["model"],
        line={"color": BLUE},
    )
    figure.add_scatter(
        x=[0, 100],
        y=[0, 100],
        mode="lines",
        name=labels["random"],
        line={"color": GREY, "dash": "dot"},
    )
    figure.add_vline(x=budget * 100, line={"color": ORANGE, "dash": "dash"})
    figure.update_xaxes(title=labels["x"], range=[0, 100])
    figure.update_yaxes(title=labels["y"], range=[0, 100])
    return figure


def risk_bars(plan: pl.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """Each awaiting car's risk, riskiest first; the ones given the full test in red."""
    figure = _figure(labels["title"])
    for selected, name, colour in (
        (True, labels["full"], RED),
        (False, labels["short"], LIGHT_BLUE),
    ):
        part = plan.filter(pl.col("full_test") == selected)
        figure.add_bar(
            x=part["rank"].to_list(),
            y=(part["probability"] * 100).to_list(),
            name=name,
            marker_color=colour,
            hovertext=part["knr"].to_list(),
        )
    figure.update_xaxes(title=labels["x"])
    figure.update_yaxes(title=labels["y"])
    return figure


TIMELINE_STYLE: dict[str, tuple[str, int, str]] = {
    "passage": (BLUE, 9, "diamond"),
    "ok": (LIGHT_BLUE, 6, "circle"),
    "rework": (ORANGE, 10, "circle"),
    "nok": (RED, 12, "x"),
    "earlier": (ORANGE, 12, "square"),
    "road_test": (RED, 14, "star"),
    "later": (GREY, 10, "square"),
}
"""Marker colour, size and symbol of each event kind of ``data.vehicle_timeline``."""


def timeline(events: pl.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """A vehicle's events on one time axis: one row per lane, NOKs and defects stand out."""
    figure = _figure(labels["title"])
    for kind, (colour, size, symbol) in TIMELINE_STYLE.items():
        part = events.filter(pl.col("kind") == kind)
        if part.height == 0:
            continue
        figure.add_scatter(
            x=part["data"].to_list(),
            y=[labels[f"lane.{lane}"] for lane in part["lane"].to_list()],
            mode="markers",
            name=labels[f"kind.{kind}"],
            marker={"color": colour, "size": size, "symbol": symbol},
            hovertext=[
                f"{c} {d}".strip() for c, d in zip(part["code"], part["detail"], strict=True)
            ],
        )
    figure.update_layout(height=320)
    figure.update_xaxes(title=labels["x"])
    return figure


def rate_over_time(rates: pl.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """Failure rate per period (line) over the number of vehicles road-tested (bars)."""
    figure = _figure(labels["title"])
    figure.add_bar(
        x=rates["period"].to_list(),
        y=rates["vehicles"].to_list(),
        name=labels["vehicles"],
        marker_color=LIGHT_BLUE,
        yaxis="y2",
        opacity=0.5,
    )
    figure.add_scatter(
        x=rates["period"].to_list(),
        y=(rates["failure_rate"] * 100).to_list(),
        mode="lines+markers",
        name=labels["rate"],
        line={"color": RED},
    )
    figure.update_layout(
        yaxis={"title": labels["rate"], "rangemode": "tozero"},
        yaxis2={"title": labels["vehicles"], "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h"},
    )
    return figure


def rate_bars(
    frame: pl.DataFrame,
    category: str,
    value: str,
    labels: Mapping[str, str],
    colour: str = BLUE,
) -> go.Figure:
    """One bar per category, ``value`` (a share) shown as a percentage."""
    figure = _figure(labels["title"])
    figure.add_bar(
        x=[str(v) if v is not None else "–" for v in frame[category].to_list()],
        y=[None if v is None else v * 100 for v in frame[value].to_list()],
        marker_color=colour,
    )
    figure.update_xaxes(title=labels["x"], type="category")
    figure.update_yaxes(title=labels["y"])
    return figure


def pareto(frame: pl.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """Defect texts by count (bars) with their cumulative share of all defects (line)."""
    figure = _figure(labels["title"])
    figure.add_bar(x=frame["falha"].to_list(), y=frame["count"].to_list(), name=labels["count"])
    figure.add_scatter(
        x=frame["falha"].to_list(),
        y=(frame["cumulative_share"] * 100).to_list(),
        name=labels["cumulative"],
        mode="lines+markers",
        line={"color": RED},
        yaxis="y2",
    )
    figure.update_layout(
        height=460,
        yaxis={"title": labels["count"]},
        yaxis2={
            "title": labels["cumulative"],
            "overlaying": "y",
            "side": "right",
            "range": [0, 100],
            "showgrid": False,
        },
        legend={"orientation": "h"},
    )
    figure.update_xaxes(tickangle=-35)
    return figure


def metric_lines(versions: pl.DataFrame, metrics: Mapping[str, str], title: str) -> go.Figure:
    """Chosen test metrics of every registered version, in version order."""
    figure = _figure(title)
    x = [f"v{v}" for v in versions["version"].to_list()]
    for column, name in metrics.items():
        figure.add_scatter(x=x, y=versions[column].to_list(), mode="lines+markers", name=name)
    figure.update_xaxes(type="category")
    figure.update_yaxes(range=[0, 1])
    return figure


def confusion(matrix: np.ndarray, labels: Mapping[str, str]) -> go.Figure:
    """The 2×2 confusion matrix at the version's threshold, counts written in the cells."""
    figure = _figure(labels["title"])
    figure.add_heatmap(
        z=matrix.tolist(),
        x=[labels["pred_pass"], labels["pred_fail"]],
        y=[labels["passed"], labels["failed"]],
        text=matrix.tolist(),
        texttemplate="%{text}",
        colorscale="Blues",
        showscale=False,
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(height=320)
    return figure


def roc(evaluation: Evaluation, labels: Mapping[str, str]) -> go.Figure:
    """ROC curve with the chance diagonal."""
    figure = _figure(labels["title"])
    figure.add_scatter(x=evaluation.roc.fpr.tolist(), y=evaluation.roc.tpr.tolist(), mode="lines")
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": GREY, "dash": "dot"})
    figure.update_layout(showlegend=False)
    figure.update_xaxes(title=labels["x"], range=[0, 1])
    figure.update_yaxes(title=labels["y"], range=[0, 1])
    return figure


def precision_recall(evaluation: Evaluation, labels: Mapping[str, str]) -> go.Figure:
    """Precision-recall curve with the failure rate as the no-skill line."""
    figure = _figure(labels["title"])
    figure.add_scatter(
        x=evaluation.pr.recall.tolist(),
        y=evaluation.pr.precision.tolist(),
        mode="lines",
        line_shape="hv",
    )
    figure.add_hline(y=evaluation.prevalence, line={"color": GREY, "dash": "dot"})
    figure.update_layout(showlegend=False)
    figure.update_xaxes(title=labels["x"], range=[0, 1])
    figure.update_yaxes(title=labels["y"], range=[0, 1.02])
    return figure


def calibration(evaluation: Evaluation, labels: Mapping[str, str]) -> go.Figure:
    """Observed failure rate against mean predicted risk per equal-count bin."""
    figure = _figure(labels["title"])
    predicted = evaluation.calibration.mean_predicted
    observed = evaluation.calibration.observed_rate
    top = float(max(predicted.max(initial=0), observed.max(initial=0), 0.01))
    figure.add_scatter(x=predicted.tolist(), y=observed.tolist(), mode="lines+markers")
    figure.add_scatter(x=[0, top], y=[0, top], mode="lines", line={"color": GREY, "dash": "dot"})
    figure.update_layout(showlegend=False)
    figure.update_xaxes(title=labels["x"])
    figure.update_yaxes(title=labels["y"])
    return figure


def recall_at_budget(evaluation: Evaluation, labels: Mapping[str, str]) -> go.Figure:
    """Share of failing cars caught at every inspection budget, against random order."""
    figure = _figure(labels["title"])
    curve = evaluation.budget_curve
    figure.add_scatter(x=(curve.budget * 100).tolist(), y=curve.recall.tolist(), mode="lines")
    figure.add_scatter(x=[0, 100], y=[0, 1], mode="lines", line={"color": GREY, "dash": "dot"})
    figure.update_layout(showlegend=False)
    figure.update_xaxes(title=labels["x"], range=[0, 100])
    figure.update_yaxes(title=labels["y"], range=[0, 1.02])
    return figure


def live_calibration(over_time: pl.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """Per version, mean predicted risk (dashed) and observed failure rate (solid) over time."""
    figure = _figure(labels["title"])
    for (version,), part in over_time.group_by("model_version", maintain_order=True):
        x = part["period"].to_list()
        figure.add_scatter(
            x=x,
            y=(part["failure_rate"] * 100).to_list(),
            mode="lines+markers",
            name=f"v{version} {labels['observed']}",
        )
        figure.add_scatter(
            x=x,
            y=(part["mean_probability"] * 100).to_list(),
            mode="lines",
            line={"dash": "dash"},
            name=f"v{version} {labels['predicted']}",
        )
    figure.update_yaxes(title=labels["y"], rangemode="tozero")
    figure.update_layout(legend={"orientation": "h"})
    return figure


def distributions(reference: pl.Series, recent: pl.Series, labels: Mapping[str, str]) -> go.Figure:
    """Histograms of a feature in the training data and in recent vehicles, as shares."""
    figure = _figure(labels["title"])
    for values, name, colour in (
        (reference, labels["reference"], GREY),
        (recent, labels["recent"], BLUE),
    ):
        shown = values.drop_nulls()
        if shown.dtype == pl.Boolean:
            shown = shown.cast(pl.Int8)
        figure.add_histogram(
            x=shown.to_list(), name=name, histnorm="percent", marker_color=colour, opacity=0.6
        )
    figure.update_layout(barmode="overlay", legend={"orientation": "h"})
    figure.update_yaxes(title=labels["y"])
    return figure


def ingestion_bars(by_day: pl.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """Rows loaded to bronze and quarantined per day of receipt."""
    figure = _figure(labels["title"])
    days = [str(d) for d in by_day["day"].to_list()]
    figure.add_bar(
        x=days, y=by_day["rows_bronze"].to_list(), name=labels["bronze"], marker_color=BLUE
    )
    figure.add_bar(
        x=days,
        y=by_day["rows_quarantined"].to_list(),
        name=labels["quarantined"],
        marker_color=ORANGE,
    )
    figure.update_layout(barmode="stack", legend={"orientation": "h"})
    figure.update_xaxes(type="category")
    return figure


def latency(history: pl.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """Latency of each service's checks over time, failed checks marked in red."""
    figure = _figure(labels["title"])
    for (service,), part in history.sort("checked_at").group_by("service", maintain_order=True):
        figure.add_scatter(
            x=part["checked_at"].to_list(),
            y=part["latency_ms"].to_list(),
            mode="lines+markers",
            name=str(service),
        )
    failed = history.filter(~pl.col("ok"))
    if failed.height:
        figure.add_scatter(
            x=failed["checked_at"].to_list(),
            y=failed["latency_ms"].to_list(),
            mode="markers",
            name=labels["failed"],
            marker={"color": RED, "size": 12, "symbol": "x"},
        )
    figure.update_yaxes(title=labels["y"], rangemode="tozero")
    figure.update_layout(legend={"orientation": "h"})
    return figure
