"""The dependency split behind the images: a small base (what the API runs) plus extras.

The API image installs the base alone, so the base must leave out training,
the dashboard and the MLflow server, the lock must pin every package an
image asks for, and a command that needs a missing extra must say where it
runs instead of failing with an import traceback.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roadtest.cli import app
from roadtest.serving.schemas import TrainingRunRequest
from roadtest.serving.training_runs import run_pipeline

REPO = Path(__file__).resolve().parents[2]
NOT_IN_THE_BASE = {
    "torch",
    "onnx",
    "onnxscript",
    "matplotlib",
    "streamlit",
    "plotly",
    "pandas",
    "mlflow",
    "dagster",
    "dagster-webserver",
    "pyspark",
}


def project() -> dict[str, Any]:
    """The [project] table of pyproject.toml."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    table = data["project"]
    assert isinstance(table, dict)
    return table


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string."""
    name = re.split(r"[\[<>=~! ;]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names() -> set[str]:
    """Every distribution requirements.lock pins."""
    lines = (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
    return {requirement_name(line) for line in lines if "==" in line}


def test_base_leaves_out_training_dashboard_and_the_mlflow_server() -> None:
    base = {requirement_name(r) for r in project()["dependencies"]}
    assert not base & NOT_IN_THE_BASE, base & NOT_IN_THE_BASE
    assert {"scikit-learn", "onnxruntime", "mlflow-skinny", "alembic"} <= base


def test_each_process_finds_its_packages_in_an_extra() -> None:
    extras = {
        name: {requirement_name(r) for r in requirements}
        for name, requirements in project()["optional-dependencies"].items()
    }
    assert {"streamlit", "plotly"} <= extras["dashboard"]
    assert {"torch", "onnx", "onnxscript", "matplotlib"} <= extras["train"]
    assert {"mlflow", "boto3"} <= extras["tracking-server"]
    assert {"dagster", "dagster-webserver"} <= extras["orchestration"]


def test_lock_pins_the_base_and_every_extra() -> None:
    table = project()
    wanted = {requirement_name(r) for r in table["dependencies"]}
    for requirements in table["optional-dependencies"].values():
        wanted |= {requirement_name(r) for r in requirements}
    assert wanted - locked_names() == set()


@pytest.fixture
def without_modules(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``hide(*names)``: find_spec answers None for those top-level modules, as in an image
    that lacks them."""
    real = importlib.util.find_spec

    def hide(*names: str) -> None:
        def find_spec(
            name: str, package: str | None = None
        ) -> importlib.machinery.ModuleSpec | None:
            if name.split(".")[0] in names:
                return None
            return real(name, package)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    return hide


@pytest.mark.parametrize(
    ("args", "hidden", "hint"),
    [
        (["train"], ("torch",), "docker-compose exec worker roadtest train"),
        (["models", "compare"], ("matplotlib",), "docker-compose exec worker roadtest models"),
        (["dashboard"], ("streamlit",), "the dashboard service runs it"),
        (["orchestrate"], ("dagster",), "the worker service runs it"),
    ],
)
def test_command_needing_a_missing_extra_says_where_it_runs(
    without_modules: Any, tmp_path: Path, args: list[str], hidden: tuple[str, ...], hint: str
) -> None:
    without_modules(*hidden)
    outcome = CliRunner().invoke(app, args, env={"ROADTEST_HOME": str(tmp_path)})
    assert outcome.exit_code == 2, outcome.output
    message = " ".join(outcome.output.split())
    assert f"no {hidden[0]}" in message and hint in message
    assert "pip install 'roadtest[" in message
    assert list(tmp_path.iterdir()) == []


def test_training_run_in_an_api_without_the_train_extra_points_to_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("roadtest.models.recurrent", "roadtest.training.pipeline"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(RuntimeError, match="cannot train") as raised:
        run_pipeline(None, None, TrainingRunRequest(), None)  # type: ignore[arg-type]
    assert "train in the worker" in str(raised.value)
