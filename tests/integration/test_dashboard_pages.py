"""Every dashboard page under Streamlit's AppTest, on an empty install and a populated one.

The populated numbers are checked against the stores read independently here
(SQL on the warehouse file, the lake, the registry, the champion's own scores),
so a page that shows a wrong number fails, not only one that crashes.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from roadtest.config import Settings
from roadtest.dashboard import sources
from roadtest.dashboard.i18n import fmt_int, fmt_pct, translate
from roadtest.lake import Lake
from roadtest.monitor.drift import DRIFT_CATEGORICAL, DRIFT_NUMERIC
from roadtest.training.registry import Registry
from roadtest.training.scoring import load_champion, score_vehicles
from roadtest.warehouse import Warehouse
from tests.integration.test_dashboard_support import DashboardHome, dashboard_home

__all__ = ["dashboard_home"]

PAGES: Final = ("planning", "vehicle", "quality", "models", "data", "health")
SCRIPT: Final = "from roadtest.dashboard.app import run_page\nrun_page({page!r})\n"
SETTINGS_VARIABLES: Final = (
    "ROADTEST_WAREHOUSE_URL",
    "ROADTEST_LAKE_URI",
    "ROADTEST_MLFLOW_TRACKING_URI",
    "ROADTEST_API_KEY",
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def run_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``run_page(page, home, lang=…, **query)`` → the AppTest after one run."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ROADTEST_API_URL", f"http://127.0.0.1:{_closed_port()}")

    def run(page: str, home: Path, lang: str = "pt-BR", **query: str) -> AppTest:
        monkeypatch.setenv("ROADTEST_HOME", str(home))
        app = AppTest.from_string(SCRIPT.format(page=page), default_timeout=180)
        app.query_params.update({"lang": lang, **query})
        return app.run()

    yield run


def _metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def _texts(app: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(app, kind)]


def _frame(app: AppTest, column: str) -> Any:
    """The (pandas) table on the page that has a column ``column``."""
    found = [f.value for f in app.dataframe if column in f.value.columns]
    assert len(found) == 1, f"{len(found)} tables with a column {column!r}"
    return found[0]


def _assert_clean(app: AppTest) -> None:
    """No exception block and no error alert anywhere on the page."""
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, _texts(app, "error")


def t(key: str, **values: Any) -> str:
    """The pt-BR text of ``key`` (the default language)."""
    return translate(key, "pt-BR", **values)


# --- an empty install ---------------------------------------------------------------------------


def test_every_page_of_an_empty_install_says_what_to_do(run_page: Any, tmp_path: Path) -> None:
    home = tmp_path / "empty"
    home.mkdir()
    expected = {
        "planning": t("empty.no_warehouse"),
        "quality": t("empty.no_warehouse"),
        "models": t("empty.no_registry"),
        "data": t("empty.no_lake"),
    }
    for page in PAGES:
        app = run_page(page, home)
        _assert_clean(app)
        if page in expected:
            assert expected[page] in _texts(app, "info"), page
    vehicle = run_page("vehicle", home, knr="2024-0354224")
    assert t("empty.no_warehouse") in _texts(vehicle, "info")
    health = _metrics(run_page("health", home))
    assert health[t("health.service.warehouse")] == t("health.down")
    assert health[t("health.service.api")] == t("health.down")
    assert list(home.iterdir()) == [], "the dashboard must not create stores"


def test_a_migrated_but_empty_warehouse_is_an_empty_state(run_page: Any, tmp_path: Path) -> None:
    home = tmp_path / "migrated"
    warehouse = Warehouse.from_settings(Settings(home=home))
    warehouse.migrate()
    warehouse.dispose()
    planning = run_page("planning", home)
    _assert_clean(planning)
    assert t("empty.no_awaiting", vehicles="0") in _texts(planning, "info")
    quality = run_page("quality", home)
    _assert_clean(quality)
    assert t("empty.no_labels") in _texts(quality, "info")


def _hold_write_lock(path: Path) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file open for writing, as the ETL does."""
    code = (
        "import duckdb, sys, time\n"
        f"c = duckdb.connect({str(path)!r})\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.slow
def test_a_warehouse_held_by_a_writer_is_reported_busy(run_page: Any, tmp_path: Path) -> None:
    home = tmp_path / "busy"
    warehouse = Warehouse.from_settings(Settings(home=home))
    warehouse.migrate()
    warehouse.dispose()
    holder = _hold_write_lock(home / "warehouse.duckdb")
    try:
        app = run_page("quality", home)
    finally:
        holder.kill()
        holder.wait()
    _assert_clean(app)
    assert t("error.warehouse_busy") in _texts(app, "info")


# --- a populated install -----------------------------------------------------------------------


def _sql(home: DashboardHome, query: str) -> pl.DataFrame:
    """A query on the warehouse file, read-only, independent of the dashboard's code."""
    with duckdb.connect(str(home.home / "warehouse.duckdb"), read_only=True) as conn:
        return pl.from_arrow(conn.sql(query).to_arrow_table())  # type: ignore[return-value]


def _scalar(home: DashboardHome, query: str) -> Any:
    return _sql(home, query).item()


def _champion_scores(home: DashboardHome) -> pl.DataFrame:
    """The champion's scores of the awaiting vehicles, computed here the way serving does."""
    store = sources.open_warehouse(Settings(home=home.home).resolved_warehouse_url())
    features = store.read_features().filter(~pl.col("labelled"))
    events = store.read_events(features["knr"].to_list())
    return score_vehicles(load_champion(Settings(home=home.home)), features, events)


@pytest.mark.slow
def test_planning_shows_the_awaiting_cars_and_the_expected_catch(
    run_page: Any, dashboard_home: DashboardHome
) -> None:
    app = run_page("planning", dashboard_home.home)
    _assert_clean(app)
    probabilities = _champion_scores(dashboard_home)["probability"]
    awaiting = _scalar(
        dashboard_home, "SELECT count(*) FROM mart_vehicle_features WHERE NOT labelled"
    )
    assert awaiting == probabilities.len() > 0
    for budget in (20, 50):
        if budget != 20:
            app = app.slider(key="budget").set_value(budget).run()
        k = max(1, math.floor(budget / 100 * awaiting + 1e-9))
        top = float(probabilities.sort(descending=True).head(k).sum())
        metrics = _metrics(app)
        assert metrics[t("planning.awaiting")] == fmt_int(awaiting, "pt-BR")
        assert metrics[t("planning.full_tests")] == fmt_int(k, "pt-BR")
        assert metrics[t("planning.expected_share")] == fmt_pct(
            top / float(probabilities.sum()), "pt-BR"
        )
        assert app.dataframe[0].value.shape[0] == k
    app = app.toggle(key="only_full").set_value(False).run()
    table = app.dataframe[0].value
    assert table.shape[0] == awaiting
    assert table[t("col.risk")].tolist() == sorted(probabilities.to_list(), reverse=True)
    assert len(app.get("plotly_chart")) == 2
    assert len(app.get("download_button")) == 1


@pytest.mark.slow
def test_planning_in_english(run_page: Any, dashboard_home: DashboardHome) -> None:
    app = run_page("planning", dashboard_home.home, lang="en")
    _assert_clean(app)
    assert app.title[0].value == "Road-test planning"
    assert "Awaiting the road test" in _metrics(app)


def _first_knr(home: DashboardHome, where: str) -> str:
    return str(_scalar(home, f"SELECT min(knr) FROM mart_vehicle_features f WHERE {where}"))


@pytest.mark.slow
def test_vehicle_page_counts_match_the_warehouse(
    run_page: Any, dashboard_home: DashboardHome
) -> None:
    knr = str(_scalar(dashboard_home, "SELECT min(knr) FROM vehicle_label WHERE road_test_failed"))
    app = run_page("vehicle", dashboard_home.home, knr=knr)
    _assert_clean(app)
    counts = _sql(
        dashboard_home,
        f"SELECT count(*) AS n, sum(is_nok::INT) AS nok, sum(is_rework::INT) AS rework "
        f"FROM fact_test_result WHERE knr = '{knr}'",
    ).row(0, named=True)
    earlier = _scalar(
        dashboard_home, f"SELECT count(*) FROM fact_defect WHERE knr = '{knr}' AND before_road_test"
    )
    metrics = _metrics(app)
    assert metrics[t("vehicle.results")] == fmt_int(counts["n"], "pt-BR")
    assert metrics[t("vehicle.nok")] == fmt_int(counts["nok"], "pt-BR")
    assert metrics[t("vehicle.reworks")] == fmt_int(counts["rework"], "pt-BR")
    assert metrics[t("vehicle.earlier_defects")] == fmt_int(earlier, "pt-BR")
    assert t("vehicle.risk", version=dashboard_home.champion) in metrics
    outcome = " ".join(_texts(app, "markdown"))
    assert t("vehicle.failed_badge") in outcome
    assert len(app.get("plotly_chart")) == 1


@pytest.mark.slow
def test_vehicle_page_of_an_awaiting_car_and_of_unknown_ones(
    run_page: Any, dashboard_home: DashboardHome
) -> None:
    knr = _first_knr(dashboard_home, "NOT labelled")
    awaiting = run_page("vehicle", dashboard_home.home, knr=knr)
    _assert_clean(awaiting)
    assert t("vehicle.awaiting") in _texts(awaiting, "info")
    stored = _scalar(dashboard_home, f"SELECT count(*) FROM predictions WHERE knr = '{knr}'")
    assert stored > 0 and _frame(awaiting, t("col.predicted_at")).shape[0] == stored
    unknown = run_page("vehicle", dashboard_home.home, knr="1999-0000001")
    _assert_clean(unknown)
    assert t("vehicle.unknown", knr="1999-0000001") in _texts(unknown, "info")
    malformed = run_page("vehicle", dashboard_home.home, knr="not-a-knr")
    _assert_clean(malformed)
    assert t("vehicle.bad_knr", knr="not-a-knr") in _texts(malformed, "warning")


@pytest.mark.slow
def test_quality_page_rates_match_the_labels(run_page: Any, dashboard_home: DashboardHome) -> None:
    app = run_page("quality", dashboard_home.home)
    _assert_clean(app)
    labelled, failed = _sql(
        dashboard_home, "SELECT count(*), sum(road_test_failed::INT) FROM vehicle_label"
    ).row(0)
    metrics = _metrics(app)
    assert metrics[t("quality.labelled")] == fmt_int(labelled, "pt-BR")
    assert metrics[t("quality.failed")] == fmt_int(failed, "pt-BR")
    assert metrics[t("quality.failure_rate")] == fmt_pct(failed / labelled, "pt-BR")
    assert len(app.get("plotly_chart")) >= 6
    pareto = _frame(app, t("col.cumulative_share"))
    rod = _scalar(dashboard_home, "SELECT count(*) FROM fact_defect WHERE is_road_test_defect")
    top = _sql(
        dashboard_home,
        "SELECT count(*) AS n FROM fact_defect WHERE is_road_test_defect GROUP BY falha "
        "ORDER BY n DESC LIMIT 1",
    ).item()
    assert pareto[t("col.count")].iloc[0] == top
    assert pareto[t("col.cumulative_share")].iloc[0] == pytest.approx(top / rod)


@pytest.mark.slow
def test_models_page_shows_the_registry_and_live_performance(
    run_page: Any, dashboard_home: DashboardHome
) -> None:
    app = run_page("models", dashboard_home.home)
    _assert_clean(app)
    registry = Registry(Settings(home=dashboard_home.home).resolved_mlflow_tracking_uri())
    champion = registry.get_champion()
    assert champion is not None
    kind = champion.tags["model_kind"]
    assert _metrics(app)[t("models.champion")] == f"v{champion.version} ({kind})"
    versions = _frame(app, t("col.kind"))
    assert sorted(versions[t("col.version")]) == sorted(dashboard_home.versions)
    activations = _scalar(dashboard_home, "SELECT count(*) FROM model_activation")
    assert _frame(app, t("col.active_from")).shape[0] == activations
    live = _sql(
        dashboard_home,
        "SELECT p.model_version, count(DISTINCT p.knr) AS vehicles FROM predictions p "
        "JOIN vehicle_label l USING (knr) WHERE p.features_as_of < l.road_test_start_at "
        "GROUP BY 1 ORDER BY 1",
    )
    performance = _frame(app, t("col.flagged_recall"))
    assert performance[t("col.vehicles")].tolist() == live["vehicles"].to_list()
    charts = len(app.get("plotly_chart"))
    assert charts >= 6, "versions, confusion, ROC, PR, calibration, budget (and live, drift)"
    drift = _frame(app, t("col.psi"))
    assert set(drift[t("col.feature")]) <= set(DRIFT_NUMERIC + DRIFT_CATEGORICAL)


@pytest.mark.slow
def test_data_page_matches_the_lake_and_the_etl_runs(
    run_page: Any, dashboard_home: DashboardHome
) -> None:
    app = run_page("data", dashboard_home.home)
    _assert_clean(app)
    manifest = Lake.from_settings(Settings(home=dashboard_home.home)).read_manifest()
    metrics = _metrics(app)
    assert metrics[t("data.files")] == fmt_int(manifest.height, "pt-BR")
    assert metrics[t("data.rows_quarantined")] == fmt_int(dashboard_home.bad_rows, "pt-BR")
    assert metrics[t("data.rows_bronze")] == fmt_int(int(manifest["rows_bronze"].sum()), "pt-BR")
    runs = _scalar(dashboard_home, "SELECT count(*) FROM etl_run")
    checks = _scalar(
        dashboard_home,
        "SELECT count(*) FROM dq_check WHERE run_id = "
        "(SELECT run_id FROM etl_run ORDER BY started_at DESC LIMIT 1)",
    )
    assert _frame(app, t("col.engine")).shape[0] == runs
    assert t("data.checks_passed", total=checks) in _texts(app, "success")
    quarantine = _frame(app, t("col.rows"))
    assert quarantine[t("col.rows")].sum() == dashboard_home.bad_rows + 1
    assert len(app.file_uploader) == 1
    assert translate("data.api_key", "pt-BR") in [w.label for w in app.text_input]


@pytest.mark.slow
def test_health_page_checks_now_and_shows_the_history(
    run_page: Any, dashboard_home: DashboardHome
) -> None:
    app = run_page("health", dashboard_home.home)
    _assert_clean(app)
    metrics = _metrics(app)
    for service in ("warehouse", "lake", "registry"):
        assert metrics[t(f"health.service.{service}")] == t("health.ok"), service
    assert metrics[t("health.service.api")] == t("health.down")
    summary = _frame(app, t("col.n_checks"))
    assert summary.shape[0] == 4
    assert summary[t("col.n_checks")].tolist() == [24] * 4
    assert summary[t("col.ok_share")].min() == pytest.approx(23 / 24)


@pytest.mark.slow
def test_the_dashboard_holds_no_lock_between_reads(
    run_page: Any, dashboard_home: DashboardHome, tmp_path: Path
) -> None:
    """After a page has read the warehouse, another process can open it for writing."""
    run_page("quality", dashboard_home.home)
    code = (
        "import duckdb, sys\n"
        f"duckdb.connect({str(dashboard_home.home / 'warehouse.duckdb')!r}).close()\n"
        "print('opened')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "opened", result.stderr
