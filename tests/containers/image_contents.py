"""What each built image carries (run by scripts/container_stage.sh, not by the suite).

The API image holds the base dependencies only: it scores with ONNX Runtime and
scikit-learn (the baselines are pickled scikit-learn models) and reaches MLflow
through its client, so torch, the dashboard, matplotlib, pandas and the MLflow
server stay out, and it is about half the worker's size. The dashboard
image adds Streamlit and Plotly but no torch; the worker has the CPU torch and
the MLflow server. It needs a Docker daemon (DOCKER_HOST) with the roadtest/*
images built, which is why it is not collected with the unit and integration
tests.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from typing import Final

TAG: Final = os.environ.get("ROADTEST_IMAGE_TAG", "local")
DOCKER: Final = os.environ.get("DOCKER", "docker")
LIST_DISTRIBUTIONS: Final = (
    "import importlib.metadata as m, json, re; "
    "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
    "for d in m.distributions()}))"
)
NOT_IN_SERVING: Final = {"torch", "onnx", "onnxscript", "matplotlib", "mlflow", "flask", "dagster"}
NOT_IN_API: Final = NOT_IN_SERVING | {"streamlit", "plotly", "pandas", "pyspark", "altair"}
MAX_API_TO_WORKER: Final = 0.55


def image(name: str) -> str:
    """The full reference of a roadtest image."""
    return f"roadtest/{name}:{TAG}"


def run_in(name: str, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a command in a throw-away container of the image, without network."""
    return subprocess.run(
        [DOCKER, "run", "--rm", "--network", "none", image(name), *command],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@cache
def distributions(name: str) -> dict[str, str]:
    """Installed distributions of the image's Python environment: normalised name → version."""
    listed = run_in(name, "python", "-c", LIST_DISTRIBUTIONS)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert isinstance(found, dict)
    return found


def size_of(name: str) -> int:
    """The image's size in bytes, as `docker image ls` counts it."""
    shown = subprocess.run(
        [DOCKER, "image", "inspect", "--format", "{{.Size}}", image(name)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shown.stdout.strip())


def report(line: str) -> None:
    """Print a measurement into the stage's log (the stage runs pytest with -s)."""
    print(f"[container stage] {line}", flush=True)


def test_api_image_has_what_scoring_needs_and_no_training_or_dashboard() -> None:
    installed = distributions("api")
    assert NOT_IN_API & set(installed) == set()
    assert not any(name.startswith("nvidia-") for name in installed)
    assert {"onnxruntime", "scikit-learn", "mlflow-skinny", "deltalake", "polars"} <= set(installed)


def test_api_app_loads_without_torch_or_the_dashboard() -> None:
    loaded = run_in(
        "api",
        "python",
        "-c",
        "import sys, roadtest.serving.app; "
        "print(sorted({'torch', 'streamlit', 'matplotlib', 'pandas'} & set(sys.modules)))",
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_training_in_the_api_image_says_it_belongs_to_the_worker() -> None:
    refused = run_in("api", "roadtest", "train")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "docker-compose exec worker roadtest train" in " ".join(refused.stderr.split())


def test_dashboard_image_has_streamlit_and_no_torch() -> None:
    installed = distributions("dashboard")
    assert NOT_IN_SERVING & set(installed) == set()
    assert {"streamlit", "plotly", "onnxruntime", "scikit-learn"} <= set(installed)


def test_worker_image_has_cpu_torch_the_mlflow_server_and_dagster() -> None:
    installed = distributions("worker")
    assert installed["torch"].endswith("+cpu")
    assert {"mlflow", "boto3", "dagster", "matplotlib", "onnx"} <= set(installed)
    assert not any(name.startswith("nvidia-") for name in installed)


def test_api_image_stays_near_half_the_worker_image() -> None:
    """The base alone makes the API image about half the worker's (1.29 against 2.56 GB when
    measured); pandas and Streamlit back in the base would take it past 0.55, torch far past."""
    sizes = {name: size_of(name) for name in ("api", "dashboard", "worker")}
    shown = ", ".join(f"{name} {size / 1e9:.2f} GB" for name, size in sizes.items())
    report(f"image sizes: {shown}; api = {sizes['api'] / sizes['worker']:.2f} x worker")
    assert sizes["api"] < MAX_API_TO_WORKER * sizes["worker"]
    assert sizes["api"] < sizes["dashboard"] < sizes["worker"]
