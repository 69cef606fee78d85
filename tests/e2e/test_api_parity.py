"""The API never disagrees with the offline pipeline, and serves without torch.

Every vehicle of the champion's test window is scored through the API (one
call per vehicle, then one batch) and through the ``roadtest predict``
command; the probabilities must agree to 1e-6. A separate process builds the
app and scores vehicles, then shows that torch was never imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from roadtest.cli import app
from roadtest.config import Settings
from roadtest.serving import create_app
from roadtest.training.registry import Registry
from roadtest.warehouse import Warehouse
from tests.integration.test_api_support import (  # noqa: F401
    TrainedPlant,
    api_settings,
    copy_home,
    trained_plant_fixture,
    vehicle_rows,
)

pytestmark = pytest.mark.slow

TOLERANCE = 1e-6


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a roadtest process over ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADTEST_")}
    return {**env, "ROADTEST_HOME": str(home)}


def runner_env(home: Path) -> dict[str, str | None]:
    """The environment of an in-process CLI run over ``home`` (other ROADTEST_* unset)."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ROADTEST_")}
    return {**unset, "ROADTEST_HOME": str(home)}


def window_knrs(home: Path, version: str) -> list[str]:
    """The vehicles of the version's test window (by road-test start)."""
    tags = Registry.from_settings(Settings(home=home)).version_info(version).tags
    start = pl.lit(tags["test_window_start"]).str.to_datetime()
    end = pl.lit(tags["test_window_end"]).str.to_datetime()
    warehouse = Warehouse.from_settings(Settings(home=home))
    labels = warehouse.read_labels()
    warehouse.dispose()
    window = labels.filter(pl.col("road_test_start_at").is_between(start, end))
    return sorted(window.get_column("knr").to_list())


def test_api_and_roadtest_predict_agree_on_every_vehicle_of_the_test_window(
    trained_plant: TrainedPlant,
    tmp_path: Path,
) -> None:
    home = copy_home(trained_plant, tmp_path / "home")
    knrs = window_knrs(home, trained_plant.version)
    assert len(knrs) >= 30

    out = tmp_path / "offline.parquet"
    result = CliRunner().invoke(
        app, ["predict", "--all", "--out", str(out), "--json"], env=runner_env(home)
    )
    assert result.exit_code == 0, result.output
    offline = pl.read_parquet(out).filter(pl.col("knr").is_in(knrs))
    expected = dict(zip(offline["knr"], offline["probability"], strict=True))
    assert set(expected) == set(knrs)

    with TestClient(create_app(api_settings(home))) as client:
        single = {}
        for knr in knrs:
            response = client.post("/v1/predictions", json={"knr": knr})
            assert response.status_code == 200, response.text
            single[knr] = response.json()["probability"]
        batch = client.post(
            "/v1/predictions/batch", json={"vehicles": [{"knr": k} for k in knrs]}
        ).json()
    batched = {i["prediction"]["knr"]: i["prediction"]["probability"] for i in batch["items"]}

    for knr in knrs:
        assert abs(single[knr] - expected[knr]) <= TOLERANCE, knr
        assert abs(batched[knr] - expected[knr]) <= TOLERANCE, knr


SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from fastapi.testclient import TestClient
    from roadtest.config import Settings
    from roadtest.serving import create_app

    request = json.loads(sys.stdin.read())
    app = create_app(Settings(home=Path(request["home"])))
    with TestClient(app) as client:
        statuses = [
            client.post("/v1/predictions", json={"knr": request["knr"]}).status_code,
            client.post("/v1/predictions", json={"rows": request["rows"]}).status_code,
            client.post(
                "/v1/predictions/batch", json={"vehicles": [{"knr": request["knr"]}]}
            ).status_code,
            client.get("/v1/models").status_code,
            client.get("/v1/ready").status_code,
        ]
    loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    print(json.dumps({"statuses": statuses, "torch_modules": loaded}))
    """
)


def test_the_api_process_scores_without_importing_torch(
    trained_plant: TrainedPlant,
    tmp_path: Path,
) -> None:
    home = copy_home(trained_plant, tmp_path / "home")
    knr = trained_plant.knrs[2]
    request = {"home": str(home), "knr": knr, "rows": vehicle_rows(trained_plant.plant, knr)}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps(request),
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["statuses"] == [200, 200, 200, 200, 200]
    assert outcome["torch_modules"] == []
