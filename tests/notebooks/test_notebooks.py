"""The CRISP-DM notebooks run from top to bottom on a small simulated plant.

Each notebook is executed with nbclient in a kernel started from this very
interpreter (the one roadtest is installed in), with a temporary working
folder, and must finish without an error and print its result line: the
``metrics`` cell prints ``ROADTEST_METRICS`` and one JSON object. The plant
size and epochs are the notebooks' CI defaults unless ``ROADTEST_NB_VEHICLES``
/ ``ROADTEST_NB_EPOCHS`` are set.

The notebooks are committed without outputs, so a reader never sees numbers
from an older version of the code; CI executes them instead.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
BASELINE = NOTEBOOKS / "01_crisp_dm_baseline.ipynb"
RECURRENT = NOTEBOOKS / "02_recurrent_model.ipynb"
MARKER = "ROADTEST_METRICS "
KERNEL_NAME = "roadtest-notebook-test"


def read(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, validated against the nbformat schema."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


@pytest.mark.parametrize("path", [BASELINE, RECURRENT], ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = read(path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    stale = [i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None]
    assert stale == [], f"{path.name}: code cells {stale} carry outputs; clear them to commit"
    tagged = [cell for cell in code if "metrics" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'metrics'"


def install_kernel(folder: Path) -> None:
    """A kernel spec that runs ipykernel on this interpreter, under a name nobody else uses."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "roadtest (test interpreter)",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")


def run_notebook(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], Path]:
    """Execute ``path`` in a fresh kernel; return its metrics and the kernel's working folder."""
    jupyter = tmp_path / "jupyter"
    install_kernel(jupyter)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.delenv("ROADTEST_NB_FIGURES", raising=False)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    notebook = read(path)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=600,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    cell = next(c for c in notebook.cells if "metrics" in c.metadata.get("tags", []))
    lines = [
        line
        for output in cell.outputs
        if output.output_type == "stream"
        for line in output.text.splitlines()
        if line.startswith(MARKER)
    ]
    assert len(lines) == 1, f"{path.name} printed no (or several) {MARKER.strip()} lines"
    return json.loads(lines[0][len(MARKER) :]), workdir


def check_auc(name: str, metrics: dict[str, Any]) -> float:
    """The ROC-AUC of ``metrics``, after checking the notebook really computed one."""
    value = metrics["roc_auc"]
    assert isinstance(value, float) and not math.isnan(value), f"{name}: no ROC-AUC"
    assert 0.0 <= value <= 1.0, f"{name}: ROC-AUC {value} outside [0, 1]"
    return value


@pytest.mark.slow
def test_baseline_notebook_runs_and_beats_chance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    metrics, workdir = run_notebook(BASELINE, tmp_path, monkeypatch)
    models = metrics["models"]
    assert set(models) == {"prior", "logreg", "gbm", "oracle"}
    aucs = {name: check_auc(name, m) for name, m in models.items()}
    assert aucs["prior"] == 0.5, "the prior scores every car alike"
    assert metrics["best_model"] in {"prior", "logreg", "gbm"}
    assert aucs[metrics["best_model"]] > 0.5
    assert aucs["oracle"] > 0.5
    for name, m in models.items():
        assert math.isclose(m["accuracy"] + m["error_rate"], 1.0), name
    assert list(workdir.iterdir()) == [], "the notebook left files in its working folder"
    after = sorted(p.name for p in NOTEBOOKS.iterdir())
    assert after == before, "the notebook wrote into notebooks/"


@pytest.mark.slow
def test_recurrent_notebook_trains_registers_and_explains_its_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics, workdir = run_notebook(RECURRENT, tmp_path, monkeypatch)
    models = metrics["models"]
    assert set(models) == {"prior", "logreg", "gbm", "gru", "lstm"}
    aucs = {name: check_auc(name, m) for name, m in models.items()}
    assert check_auc("oracle", metrics["oracle"]) > 0.5
    chosen = metrics["best_model"]
    assert models[chosen]["valid_pr_auc"] == max(m["valid_pr_auc"] for m in models.values())
    assert aucs[chosen] > 0.5
    for cell in ("gru", "lstm"):
        run = models[cell]
        assert 1 <= run["best_epoch"] <= run["epochs"] <= metrics["epochs"], cell
        assert run["fit_seconds"] > 0
    assert metrics["registered_version"] == "1" and metrics["promoted"] is True
    assert list(workdir.iterdir()) == [], "the notebook left files in its working folder"
