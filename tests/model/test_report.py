"""The run report is written as markdown with its plots, without touching global state."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from roadtest.training.evaluate import compare, evaluate_scores
from roadtest.training.report import PLOTS, render_report


def test_report_writes_markdown_and_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    y_groups = np.column_stack([y, np.zeros(300, dtype=int)])
    good = np.clip(0.1 + 0.4 * y + rng.normal(0, 0.1, 300), 0, 1)
    groups = np.column_stack([good, good])
    evaluations = {
        "gru": evaluate_scores(y, good, 0.3, y_groups, groups, ["doors", "front"]),
        "prior": evaluate_scores(y, np.full(300, y.mean()), 0.3),
    }
    backend = matplotlib.get_backend()

    report = render_report(
        {"run_id": "abc123", "test window": "2024-01..2024-02"},
        evaluations,
        compare(evaluations),
        tmp_path / "out",
    )

    assert report == tmp_path / "out" / "report.md"
    text = report.read_text(encoding="utf-8")
    for expected in ("abc123", "| gru |", "| prior |", "recall_at_10pct", "doors", "front"):
        assert expected in text
    assert "no vehicle failed in this group" in text
    for name in PLOTS:
        assert f"({name}.png)" in text
        assert (tmp_path / "out" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == backend
