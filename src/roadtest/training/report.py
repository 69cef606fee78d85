"""The human-readable report of a training run: report.md plus PNG plots.

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas
directly (no pyplot), so rendering a report never changes the backend or
global state of the process that asks for it (a notebook, the CLI, a worker).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from roadtest.training.evaluate import Evaluation

PLOTS = {
    "roc": "ROC curve",
    "pr": "Precision-recall curve",
    "calibration": "Calibration",
    "budget": "Recall at inspection budget",
    "confusion": "Confusion matrices at the operating threshold",
}


def render_report(
    run_info: Mapping[str, Any],
    evaluations: Mapping[str, Evaluation],
    comparison: pl.DataFrame,
    out_dir: Path,
) -> Path:
    """Write report.md and one PNG per plot in ``PLOTS`` into ``out_dir``; return report.md.

    ``evaluations`` are drawn in every plot; include the oracle among them to draw it too.
    """
    if not evaluations:
        raise ValueError("no evaluations to report")
    out_dir.mkdir(parents=True, exist_ok=True)
    drawers: dict[str, Callable[[Figure, Mapping[str, Evaluation]], None]] = {
        "roc": _draw_roc,
        "pr": _draw_pr,
        "calibration": _draw_calibration,
        "budget": _draw_budget,
        "confusion": _draw_confusions,
    }
    for name, draw in drawers.items():
        figure = Figure(figsize=_figure_size(name, len(evaluations)), layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure, evaluations)
        figure.savefig(out_dir / f"{name}.png", dpi=110)
    report = out_dir / "report.md"
    report.write_text(_markdown(run_info, evaluations, comparison), encoding="utf-8")
    return report


def _figure_size(name: str, n_models: int) -> tuple[float, float]:
    if name == "confusion":
        return (3.2 * min(n_models, 4), 3.0 * math.ceil(n_models / 4))
    return (6.0, 4.5)


def _draw_roc(figure: Figure, evaluations: Mapping[str, Evaluation]) -> None:
    axes = figure.add_subplot()
    for name, e in evaluations.items():
        axes.plot(e.roc.fpr, e.roc.tpr, label=f"{name} (AUC {_fmt(e.roc_auc)})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    _finish(axes, "False-positive rate", "Recall (true-positive rate)", PLOTS["roc"])


def _draw_pr(figure: Figure, evaluations: Mapping[str, Evaluation]) -> None:
    axes = figure.add_subplot()
    for name, e in evaluations.items():
        axes.step(e.pr.recall, e.pr.precision, where="post", label=f"{name} (AP {_fmt(e.pr_auc)})")
    prevalence = next(iter(evaluations.values())).prevalence
    axes.axhline(prevalence, color="grey", linestyle=":", label="failure rate")
    _finish(axes, "Recall", "Precision", PLOTS["pr"])


def _draw_calibration(figure: Figure, evaluations: Mapping[str, Evaluation]) -> None:
    axes = figure.add_subplot()
    top = 0.0
    for name, e in evaluations.items():
        axes.plot(e.calibration.mean_predicted, e.calibration.observed_rate, marker="o", label=name)
        top = max(
            top, float(e.calibration.mean_predicted.max()), float(e.calibration.observed_rate.max())
        )
    axes.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    _finish(
        axes,
        "Mean predicted risk (equal-count bins)",
        "Observed failure rate",
        PLOTS["calibration"],
    )


def _draw_budget(figure: Figure, evaluations: Mapping[str, Evaluation]) -> None:
    axes = figure.add_subplot()
    for name, e in evaluations.items():
        axes.plot(100 * e.budget_curve.budget, e.budget_curve.recall, label=name)
    axes.plot([0, 100], [0, 1], color="grey", linestyle=":", label="random order")
    _finish(
        axes,
        "Cars given the full road test (% by decreasing risk)",
        "Share of failing cars caught",
        PLOTS["budget"],
    )


def _draw_confusions(figure: Figure, evaluations: Mapping[str, Evaluation]) -> None:
    columns = min(len(evaluations), 4)
    rows = math.ceil(len(evaluations) / columns)
    for i, (name, e) in enumerate(evaluations.items()):
        axes = figure.add_subplot(rows, columns, i + 1)
        axes.imshow(e.confusion, cmap="Blues")
        dark = e.confusion.max() / 2
        for (r, c), count in np.ndenumerate(e.confusion):
            colour = "white" if count > dark else "black"
            axes.text(c, r, str(count), ha="center", va="center", color=colour)
        axes.set_xticks([0, 1], ["pass", "fail"])
        axes.set_yticks([0, 1], ["passed", "failed"])
        axes.set_xlabel("predicted")
        axes.set_ylabel("road test")
        axes.set_title(f"{name} (≥ {_fmt(e.threshold)})", fontsize=9)


def _finish(axes: Axes, xlabel: str, ylabel: str, title: str) -> None:
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)


def _fmt(value: Any) -> str:
    """Numbers with 4 decimals, missing values as a dash, the rest as text."""
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_fmt(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def _markdown(
    run_info: Mapping[str, Any], evaluations: Mapping[str, Evaluation], comparison: pl.DataFrame
) -> str:
    lines = ["# Road-test failure models: run report", "", "## Run", ""]
    lines += _table(["item", "value"], [[k, v] for k, v in run_info.items()])
    lines += ["", "## Comparison", ""]
    lines += _table(comparison.columns, [list(row) for row in comparison.iter_rows()])
    lines += ["", "## Plots", ""]
    lines += [f"![{title}]({name}.png)" for name, title in PLOTS.items()]
    for name, e in evaluations.items():
        lines += ["", f"## {_fmt(name)}", ""]
        lines.append(
            f"{e.n_vehicles} vehicles, {e.n_failed} failed ({100 * e.prevalence:.1f} %); "
            f"threshold {_fmt(e.threshold)}: precision {_fmt(e.precision)}, "
            f"recall {_fmt(e.recall)}, F1 {_fmt(e.f1)}."
        )
        lines += [
            "",
            *_table(
                ["", "predicted pass", "predicted fail"],
                [
                    ["passed", *e.confusion[0].tolist()],
                    ["failed", *e.confusion[1].tolist()],
                ],
            ),
        ]
        lines += [
            "",
            *_table(
                ["inspection budget", "recall", "precision"],
                [
                    [f"{100 * b:g} %", e.recall_at_budget[b], e.precision_at_budget[b]]
                    for b in e.recall_at_budget
                ],
            ),
        ]
        if e.group_roc_auc or e.skipped_groups:
            rows = [[g, auc, ""] for g, auc in e.group_roc_auc.items()]
            rows += [[g, float("nan"), why] for g, why in e.skipped_groups.items()]
            lines += ["", *_table(["failure group", "ROC-AUC", "note"], rows)]
    return "\n".join(lines) + "\n"
