"""Static checks of the container files: Dockerfile lint, compose structure, env file, scripts.

They need no Docker daemon, so they run with the rest of the suite; the
container stage (scripts/container_stage.sh) builds and runs the images.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))
SHELL_SCRIPTS = [
    *sorted((REPO / "docker").glob("*.sh")),
    REPO / "scripts" / "install_docker.sh",
    REPO / "scripts" / "build_base_image.sh",
    REPO / "scripts" / "build_images.sh",
    REPO / "scripts" / "container_stage.sh",
]
SECRETS = (
    "ROADTEST_DB_PASSWORD",
    "ROADTEST_S3_ACCESS_KEY_ID",
    "ROADTEST_S3_SECRET_ACCESS_KEY",
    "ROADTEST_API_KEY_HASHES",
)


def load_compose() -> dict[str, Any]:
    """compose.yaml as data."""
    data = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def compose_variables() -> set[str]:
    """Every ${VAR...} that compose.yaml interpolates."""
    return set(re.findall(r"\$\{(\w+)", (REPO / "compose.yaml").read_text()))


def test_there_is_a_dockerfile_per_image() -> None:
    assert {p.name for p in DOCKERFILES} == {
        "roadtest.Dockerfile",
        "postgres.Dockerfile",
        "seaweedfs.Dockerfile",
    }


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--config", str(REPO / ".hadolint.yaml"), str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_takes_base_image_runs_unprivileged_and_checks_health(
    dockerfile: Path,
) -> None:
    text = dockerfile.read_text()
    assert text.startswith("#") and "ARG BASE_IMAGE=roadtest/debian:bookworm" in text
    assert "FROM ${BASE_IMAGE}" in text
    final_stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    runnable = [stage for stage in final_stages if "HEALTHCHECK" in stage]
    assert runnable, "no stage has a HEALTHCHECK"
    for stage in runnable:
        users = re.findall(r"^USER (\S+)", stage, flags=re.MULTILINE)
        assert users and not users[-1].startswith(("0", "root")), stage.splitlines()[0]


def dockerfile_stages() -> dict[str, str]:
    """The stages of roadtest.Dockerfile by name, each with its instructions."""
    text = (REPO / "docker" / "roadtest.Dockerfile").read_text()
    return {stage.split()[2]: stage for stage in re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]}


def stage_requirements(stage: str) -> list[str]:
    """Names of the requirements a dependency stage asks project_requirements.py for."""
    call = re.search(r"project_requirements\.py pyproject\.toml ?(\S*) >", stage)
    assert call, stage.splitlines()[0]
    extras = [e for e in call.group(1).strip('"').split(",") if e]
    if extras == ["$WORKER_EXTRAS"]:
        extras = re.findall(r"^ARG WORKER_EXTRAS=(\S+)", stage, re.MULTILINE)[0].split(",")
    requirements = load_project_requirements().read_requirements(REPO / "pyproject.toml", extras)
    return [re.split(r"[\[<>=~! ]", r, maxsplit=1)[0].lower() for r in requirements]


def refused_packages(stage: str) -> re.Pattern[str]:
    """The pattern a dependency stage's build refuses in `pip list --format=freeze`."""
    refusal = re.search(r"\| grep -i -E '([^']+)'", stage)
    assert refusal, stage.splitlines()[0]
    return re.compile(refusal.group(1), re.IGNORECASE)


def test_each_image_copies_its_own_dependency_stage() -> None:
    stages = dockerfile_stages()
    for image in ("api", "dashboard", "worker"):
        assert f"COPY --from={image}-deps /opt/venv /opt/venv" in stages[image]


def test_only_the_worker_image_gets_torch() -> None:
    stages = dockerfile_stages()
    for serving in ("api-deps", "dashboard-deps"):
        assert "torch" not in stage_requirements(stages[serving]), serving
        assert refused_packages(stages[serving]).search("torch==2.13.0+cpu"), serving
        assert refused_packages(stages[serving]).search("nvidia-cublas-cu12==12.8.4.1"), serving
    assert "torch" in stage_requirements(stages["worker-deps"])
    assert 'TORCH_REQUIREMENT="torch==2.13.0+cpu"' in stages["worker-deps"]
    assert refused_packages(stages["worker-deps"]).search("nvidia-cudnn-cu12==9.10.2.21")
    assert not refused_packages(stages["worker-deps"]).search("torch==2.13.0+cpu")


@pytest.mark.parametrize(
    ("stage", "refused", "kept"),
    [
        (
            "api-deps",
            ["streamlit", "plotly", "matplotlib", "pandas", "mlflow", "flask", "onnx", "dagster"],
            ["scikit-learn", "onnxruntime", "mlflow-skinny", "deltalake", "polars", "alembic"],
        ),
        (
            "dashboard-deps",
            ["matplotlib", "mlflow", "flask", "onnx", "dagster"],
            ["streamlit", "plotly", "pandas", "scikit-learn", "onnxruntime", "mlflow-skinny"],
        ),
    ],
)
def test_serving_stages_ask_for_and_refuse_only_what_their_process_needs(
    stage: str, refused: list[str], kept: list[str]
) -> None:
    text = dockerfile_stages()[stage]
    asked = stage_requirements(text)
    pattern = refused_packages(text)
    for name in refused:
        assert name not in asked, (stage, name)
        assert pattern.search(f"{name}==1.0"), (stage, name)
    for name in kept:
        assert not pattern.search(f"{name}==1.0"), (stage, name)


def test_every_service_is_on_host_network_with_health_and_no_published_ports() -> None:
    services = load_compose()["services"]
    assert set(services) >= {"postgres", "seaweedfs", "mlflow", "api", "dashboard", "worker"}
    for name, service in services.items():
        assert service.get("network_mode") == "host", name
        assert "ports" not in service and "networks" not in service, name
        assert service["healthcheck"]["test"][0] == "CMD-SHELL", name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert condition == {"condition": "service_healthy"}, (name, dependency)


def test_compose_declares_named_volumes_only() -> None:
    compose = load_compose()
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source in declared, (name, mount)


def test_every_address_in_compose_is_loopback() -> None:
    text = (REPO / "compose.yaml").read_text()
    hosts = set(re.findall(r"(?:://|@|--host |-ip=|-ip\.bind=)([\w.\-]+)", text))
    hosts.discard("roadtest")
    hosts.discard("mlflow")
    assert hosts == {"127.0.0.1"}, hosts


def test_secrets_are_required_and_never_defaulted() -> None:
    text = (REPO / "compose.yaml").read_text()
    for secret in SECRETS:
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses, secret
        assert all(use.startswith(":?") for use in uses), (secret, uses)


def test_env_example_lists_every_compose_variable_with_placeholder_secrets() -> None:
    example: dict[str, str] = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            example[key] = value
    assert compose_variables() <= set(example), compose_variables() - set(example)
    for secret in SECRETS:
        assert example[secret] == "CHANGE-ME", secret


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_parses_and_is_executable(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_dockerignore_keeps_data_and_venv_out_of_the_context() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*") :][:1] == ["*"]
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "src/",
        "docker/",
        "build/wheelhouse/",
    }


def load_project_requirements() -> ModuleType:
    """docker/project_requirements.py, which is a build helper and not a package module."""
    path = REPO / "docker" / "project_requirements.py"
    spec = importlib.util.spec_from_file_location("project_requirements", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_requirements_follow_pyproject_extras(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["polars>=1"]\n'
        '[project.optional-dependencies]\ntrain = ["torch==2.13.0"]\n'
    )
    module = load_project_requirements()
    assert module.read_requirements(pyproject, []) == ["polars>=1"]
    assert module.read_requirements(pyproject, ["train"]) == ["polars>=1", "torch==2.13.0"]
    with pytest.raises(SystemExit, match="no extra orchestration"):
        module.read_requirements(pyproject, ["orchestration"])
