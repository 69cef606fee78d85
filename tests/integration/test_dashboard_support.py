"""A populated platform for the dashboard tests, built once per session (no tests here).

``dashboard_home`` is what a plant would have after a few weeks of use:

1. a simulated plant's exports cut at two moments in time into two deliveries;
   rows after the second cut ("now") are the future, kept aside for upload tests,
   so the vehicles on the line at that moment await the road test;
2. delivery 1 ingested and loaded, a logistic regression trained (champion v1),
   the awaiting vehicles predicted and stored;
3. delivery 2 (with a few malformed rows, which land in quarantine) ingested and
   loaded, so vehicles predicted earlier now have outcomes (live performance),
   a boosting model trained (v2, champion or challenger by the promotion rule),
   the awaiting vehicles predicted again;
4. a ``health_check`` table with a short history, as the monitor would write it.

Everything lives under one ``ROADTEST_HOME``. The build is memoised at module
level because both the AppTest and the browser modules import this fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import polars as pl
import pytest

from roadtest.config import Settings
from roadtest.etl.jobs import run_etl
from roadtest.lake import Lake, ingest_paths
from roadtest.monitor.health import HEALTH_COLUMNS
from roadtest.simulate import PlantConfig, simulate_plant, write_exports
from roadtest.training.pipeline import TrainConfig, train
from roadtest.training.registry import Registry
from roadtest.training.scoring import load_champion, predict_and_store
from roadtest.warehouse import Warehouse
from roadtest.warehouse.schema import HEALTH_CHECK

DASHBOARD_PLANT: Final = PlantConfig(vehicles=500, seed=23)
CUTS: Final = (0.6, 0.92)
"""Share of the plant's time span at which delivery 1 ends and at which "now" is."""
TABLES: Final = ("RESULTADOS", "FALHAS", "STATUS")
BAD_ROWS: Final = 3


@dataclass(frozen=True)
class DashboardHome:
    """A populated ROADTEST_HOME and what the build put in it."""

    home: Path
    future: Path
    """Exports of what happens after "now", not ingested: a delivery to upload in tests."""
    champion: str
    versions: tuple[str, ...]
    bad_rows: int


_BUILT: dict[Path, DashboardHome] = {}


def _cut_exports(source: Path, target: Path, start: datetime | None, end: datetime) -> Path:
    """The rows of each export with DATA in [start, end), as one delivery folder."""
    target.mkdir(parents=True)
    for table in TABLES:
        rows = pl.read_parquet(source / f"{table}.parquet")
        kept = rows.filter(pl.col("DATA") < end)
        if start is not None:
            kept = kept.filter(pl.col("DATA") >= start)
        kept.write_parquet(target / f"{table}_{end:%Y%m%d%H%M}.parquet")
    return target


def _add_bad_rows(folder: Path) -> None:
    """Malformed RESULTADOS rows (a bad STATUS, a bad KNR), as real exports carry."""
    path = next(folder.glob("RESULTADOS_*.parquet"))
    rows = pl.read_parquet(path)
    bad = rows.head(BAD_ROWS).with_columns(
        pl.Series("STATUS", [99] * BAD_ROWS, dtype=rows.schema["STATUS"]),
        pl.Series("KNR", ["XX-1", *rows["KNR"].head(BAD_ROWS - 1).to_list()]),
    )
    pl.concat([rows, bad]).write_parquet(path)


def _health_history(warehouse: Warehouse) -> None:
    """A monitor's history: every service checked hourly for a day, the API down once."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    rows = []
    for hour in range(24):
        for base, service in enumerate(("api", "warehouse", "lake", "registry")):
            down = service == "api" and hour == 5
            rows.append(
                {
                    "service": service,
                    "checked_at": start + timedelta(hours=hour),
                    "ok": not down,
                    "latency_ms": 4.0 * (base + 1) + hour % 5,
                    "detail": "connection refused" if down else "ok",
                }
            )
    with warehouse.transaction() as tx:
        tx.append_rows(HEALTH_CHECK.name, pl.DataFrame(rows, schema=HEALTH_COLUMNS))


def build_dashboard_home(root: Path) -> DashboardHome:
    """Simulate, deliver twice, load, train twice, predict twice (see the module docstring)."""
    if root in _BUILT:
        return _BUILT[root]
    home = root / "home"
    settings = Settings(home=home)
    write_exports(simulate_plant(DASHBOARD_PLANT), root / "full", "parquet", root / "truth", seed=0)
    status = pl.read_parquet(root / "full" / "STATUS.parquet")["DATA"]
    first, last = status.min(), status.max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    cut_1, now = (first + (last - first) * share for share in CUTS)
    deliveries = [
        _cut_exports(root / "full", root / "delivery_1", None, cut_1),
        _cut_exports(root / "full", root / "delivery_2", cut_1, now),
    ]
    _add_bad_rows(deliveries[1])
    future = _cut_exports(root / "full", root / "future", now, last + timedelta(days=365))
    lake, warehouse, registry = (
        Lake.from_settings(settings),
        Warehouse.from_settings(settings),
        Registry.from_settings(settings),
    )
    try:
        for delivery, model in zip(deliveries, ("logreg", "gbm"), strict=True):
            ingest_paths(lake, [delivery])
            run_etl(lake, warehouse)
            train(warehouse, registry, [model], TrainConfig())
            predict_and_store(warehouse, load_champion(settings), None, pending_only=True)
        _health_history(warehouse)
    finally:
        warehouse.dispose()
    champion = registry.get_champion()
    assert champion is not None
    built = DashboardHome(
        home=home,
        future=future,
        champion=champion.version,
        versions=tuple(v.version for v in registry.list_versions()),
        bad_rows=BAD_ROWS,
    )
    _BUILT[root] = built
    return built


_ROOT: dict[str, Path] = {}


@pytest.fixture(scope="session")
def dashboard_home(tmp_path_factory: pytest.TempPathFactory) -> DashboardHome:
    """The populated home, built once per session; treat it as read-only."""
    if "root" not in _ROOT:
        _ROOT["root"] = tmp_path_factory.mktemp("dashboard_plant")
    return build_dashboard_home(_ROOT["root"])
