"""The ``roadtest`` command line: the one module that wires every part together.

Each command that does work takes ``--json`` and then prints exactly one JSON
object summarising what it did (progress bars go to stderr), so scripts and
the orchestration layer can read the outcome without parsing prose.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final, cast

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from roadtest.config import Settings
from roadtest.progress import NO_PROGRESS
from roadtest.progress import Progress as ProgressSink

app = typer.Typer(
    name="roadtest",
    help="Predict road-test failures before the road test, from assembly-line data.",
    no_args_is_help=True,
    add_completion=False,
)
warehouse_app = typer.Typer(help="Warehouse maintenance.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")
models_app = typer.Typer(
    help="Registered models: list, inspect, compare on the newest test window, promote.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")

err_console = Console(stderr=True)
out_console = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON summary object.")]


class RichProgress:
    """Shows pipeline progress as Rich bars on stderr, one bar per step."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, step: str, total: int | None = None) -> None:
        """Open a bar for ``step``."""
        self._tasks[step] = self._progress.add_task(step, total=total)

    def advance(self, step: str, amount: int = 1) -> None:
        """Move the bar of ``step``."""
        if step in self._tasks:
            self._progress.advance(self._tasks[step], amount)

    def finish(self, step: str) -> None:
        """Fill the bar of ``step``."""
        task = self._tasks.get(step)
        if task is not None:
            total = self._progress.tasks[task].total or 1
            self._progress.update(task, total=total, completed=total)


@contextmanager
def show_progress(enabled: bool = True) -> Iterator[ProgressSink]:
    """Yield a progress sink drawing Rich bars on stderr (or a silent one)."""
    if not enabled:
        yield NO_PROGRESS
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        yield RichProgress(progress)


def print_json(payload: dict[str, Any]) -> None:
    """Print the command's one JSON object on stdout."""
    sys.stdout.write(json.dumps(payload, default=str, indent=2) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Report an error a plant analyst can act on and leave with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


EXTRAS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "train": (("torch", "onnx", "matplotlib"), "run docker-compose exec worker roadtest {command}"),
    "dashboard": (("streamlit", "plotly"), "the dashboard service runs it"),
    "orchestration": (("dagster", "dagster_webserver"), "the worker service runs it"),
}
"""Each optional part of roadtest: the modules it brings, and where the containers have it."""


def require_extras(command: str, *extras: str) -> None:
    """Stop with what to install when ``command`` needs an extra this installation lacks.

    The API image installs only the base dependencies, so ``roadtest train`` run there
    says where training lives instead of ending in an import traceback.
    """
    import importlib.util

    from rich.markup import escape

    for extra in extras:
        modules, elsewhere = EXTRAS[extra]
        missing = [module for module in modules if importlib.util.find_spec(module) is None]
        if missing:
            install = escape(f"pip install 'roadtest[{extra}]'")
            raise fail(
                f"`roadtest {command}` needs roadtest's {extra} extra, which this installation "
                f"lacks (no {', '.join(missing)}): {install}; in the containers, "
                f"{elsewhere.format(command=command)}",
                code=2,
            )


@app.command()
def simulate(
    vehicles: Annotated[int, typer.Option(min=1, help="Number of vehicles to build.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same plant.")] = 7,
    out: Annotated[Path, typer.Option(help="Folder for the three export files.")] = Path("exports"),
    fmt: Annotated[
        str, typer.Option("--format", help="Export format: xlsx, csv or parquet.")
    ] = "csv",
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First production day.")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Folder for the ground truth (default: OUT/../truth).")
    ] = None,
    rows_per_vehicle: Annotated[
        int | None,
        typer.Option(min=10, help="Mean RESULTADOS rows per vehicle (raise for stress runs)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Simulate a plant and write its exports in the partner's format, plus the ground truth."""
    from roadtest.simulate import ExportFormat, PlantConfig, simulate_plant, write_exports

    if fmt not in ("xlsx", "csv", "parquet"):
        raise fail(f"unknown format {fmt!r}: choose xlsx, csv or parquet", code=2)
    overrides: dict[str, Any] = {"vehicles": vehicles, "seed": seed}
    if start is not None:
        overrides["start"] = start.date()
    if rows_per_vehicle is not None:
        overrides["rows_per_vehicle"] = rows_per_vehicle
    truth_dir = truth if truth is not None else out.resolve().parent / "truth"
    try:
        config = PlantConfig(**overrides)
        with err_console.status(f"simulating {vehicles} vehicles (seed {seed})"):
            plant = simulate_plant(config)
        with err_console.status(f"writing {fmt} exports to {out}"):
            summary = write_exports(plant, out, cast(ExportFormat, fmt), truth_dir, seed=seed)
    except ValueError as error:
        raise fail(str(error), code=2) from error
    payload = summary.to_dict()
    if as_json:
        print_json(payload)
    else:
        err_console.print(f"wrote exports to [bold]{out}[/] and the ground truth to {truth_dir}")
        out_console.print_json(data=payload)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Export files or folders of exports.")],
    as_json: JsonOption = False,
) -> None:
    """Store exports in the lake: raw as received, valid rows in bronze, the rest quarantined."""
    from roadtest.lake import Lake, ingest_paths

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"not found: {', '.join(missing)}", code=2)
    settings = Settings()
    lake = Lake.from_settings(settings)
    with show_progress(enabled=True) as progress:
        summary = ingest_paths(lake, paths, progress=progress)
    if as_json:
        print_json(summary.to_dict())
    else:
        print_ingest_table(summary.to_dict())
    if not summary.ok:
        rejected = [f for f in summary.to_dict()["files"] if f["outcome"] == "rejected"]
        for f in rejected:
            err_console.print(f"[bold red]rejected[/] {f['name']}: {f['reason']}")
        raise typer.Exit(1)


def print_ingest_table(summary: dict[str, Any]) -> None:
    """Show one line per file with its reconciled row counts."""
    table = Table(title="ingest")
    for column in ("file", "table", "outcome", "read", "bronze", "quarantined"):
        table.add_column(column)
    for f in summary["files"]:
        table.add_row(
            f["name"],
            f["table"] or "-",
            f["outcome"],
            str(f["rows_read"]),
            str(f["rows_bronze"]),
            str(f["rows_quarantined"]),
        )
    out_console.print(table)


@app.command()
def etl(
    engine: Annotated[
        str, typer.Option(help="Where the transforms run: polars (default), duckdb or spark.")
    ] = "polars",
    as_json: JsonOption = False,
) -> None:
    """Load new bronze data into the warehouse: star schema, labels, marts, quality checks."""
    from roadtest.etl.engines import ENGINES
    from roadtest.etl.jobs import run_etl
    from roadtest.lake import Lake
    from roadtest.warehouse import Warehouse

    if engine not in ENGINES:
        raise fail(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}", code=2)
    settings = Settings()
    warehouse = Warehouse.from_settings(settings)
    try:
        with show_progress() as progress:
            summary = run_etl(Lake.from_settings(settings), warehouse, engine, progress)
    finally:
        warehouse.dispose()
    payload = summary.to_dict()
    if as_json:
        print_json(payload)
    else:
        print_etl_summary(payload)
    if not summary.ok:
        raise fail(summary.message)


def print_etl_summary(summary: dict[str, Any]) -> None:
    """Show rows loaded per table and the data-quality checks of one ETL run."""
    out_console.print(
        f"ETL {summary['outcome']} in {summary['duration_s']} s: "
        f"{summary['vehicles_affected']} vehicles updated, "
        f"{summary['vehicles_labelled']} labelled. {summary['message']}"
    )
    if summary["rows_loaded"]:
        rows = Table(title="rows loaded")
        rows.add_column("table")
        rows.add_column("rows", justify="right")
        for name, count in summary["rows_loaded"].items():
            rows.add_row(name, str(count))
        out_console.print(rows)
    if summary["checks"]:
        checks = Table(title="data-quality checks")
        for column in ("check", "severity", "passed", "observed", "threshold"):
            checks.add_column(column)
        for check in summary["checks"]:
            checks.add_row(
                check["name"],
                check["severity"],
                "yes" if check["passed"] else "[bold red]NO[/]",
                str(check["observed"]),
                str(check["threshold"]),
            )
        out_console.print(checks)


@warehouse_app.command("docs")
def warehouse_docs(
    out: Annotated[Path, typer.Option(help="Where to write the data dictionary.")] = Path(
        "docs/warehouse.md"
    ),
) -> None:
    """Regenerate the warehouse data dictionary and ER diagram from the schema."""
    from roadtest.warehouse import render_data_dictionary

    out.write_text(render_data_dictionary(), encoding="utf-8")
    err_console.print(f"wrote {out}")


@warehouse_app.command("migrate")
def warehouse_migrate(as_json: JsonOption = False) -> None:
    """Create or upgrade the warehouse schema (the ETL does this too)."""
    from roadtest.warehouse import Warehouse

    warehouse = Warehouse.from_settings(Settings())
    try:
        applied = warehouse.migrate()
        version = warehouse.schema_version()
    finally:
        warehouse.dispose()
    payload = {"applied": applied, "schema_version": version}
    if as_json:
        print_json(payload)
    else:
        err_console.print(f"warehouse schema at version {version} (applied: {applied or 'none'})")


@app.command()
def demo(
    vehicles: Annotated[int, typer.Option(min=50, help="Size of the simulated plant.")] = 3000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated plant.")] = 7,
    serve_apps: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the API and the dashboard at the end.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Run the whole platform on a simulated plant, reusing whatever already exists.

    Simulate, ingest, ETL, train and promote a champion (only when there is none),
    score the vehicles awaiting the road test, then serve the API and the dashboard
    on 127.0.0.1 until Ctrl+C.
    """
    require_extras("demo", "train", *(("dashboard",) if serve_apps else ()))
    from roadtest.etl.jobs import run_etl
    from roadtest.lake import Lake, ingest_paths
    from roadtest.warehouse import Warehouse

    settings = Settings()
    steps: dict[str, Any] = {"simulate": demo_exports(settings, vehicles, seed)}
    lake = Lake.from_settings(settings)
    with show_progress() as progress:
        ingested = ingest_paths(lake, [settings.home / "exports"], progress=progress)
    steps["ingest"] = ingested.to_dict()
    if not ingested.ok:
        raise fail("some exports were rejected; see the ingest summary")
    warehouse = Warehouse.from_settings(settings)
    try:
        with show_progress() as progress:
            loaded = run_etl(lake, warehouse, "polars", progress)
        steps["etl"] = loaded.to_dict()
        if not loaded.ok:
            raise fail(loaded.message)
        steps["train"] = demo_champion(settings, warehouse)
        steps["predict"] = demo_predictions(settings, warehouse)
    finally:
        warehouse.dispose()
    if as_json:
        print_json(steps)
    else:
        print_ingest_table(steps["ingest"])
        print_etl_summary(steps["etl"])
        err_console.print(
            f"champion: version {steps['predict']['model_version']}; "
            f"{steps['predict']['vehicles']} vehicles awaiting the road test scored"
        )
    if serve_apps:
        serve_demo(settings)


def demo_exports(settings: Settings, vehicles: int, seed: int) -> dict[str, Any]:
    """Simulate the demo plant into HOME/exports unless exports are already there."""
    from roadtest.simulate import PlantConfig, simulate_plant, write_exports

    exports = settings.home / "exports"
    if exports.is_dir() and any(exports.iterdir()):
        err_console.print(f"reusing the simulated exports in {exports}")
        return {"reused": str(exports)}
    with err_console.status(f"simulating a plant of {vehicles} vehicles"):
        plant = simulate_plant(PlantConfig(vehicles=vehicles, seed=seed))
        written = write_exports(plant, exports, "xlsx", settings.home / "truth", seed=seed)
    return written.to_dict()


def demo_champion(settings: Settings, warehouse: Any) -> dict[str, Any]:
    """Train and register a champion unless the registry already has one."""
    import polars as pl

    from roadtest.training.pipeline import train as run_training
    from roadtest.training.registry import Registry

    registry = Registry.from_settings(settings)
    champion = registry.get_champion()
    if champion is not None:
        err_console.print(f"reusing champion version {champion.version}")
        return {"reused_champion": champion.version}
    truth_path = settings.home / "truth" / "truth.parquet"
    truth = pl.read_parquet(truth_path) if truth_path.is_file() else None
    with show_progress() as progress:
        result = run_training(
            warehouse, registry, ("gru", "gbm", "logreg"), truth=truth, progress=progress
        )
    return result.to_dict()


def demo_predictions(settings: Settings, warehouse: Any) -> dict[str, Any]:
    """Score the vehicles awaiting the road test with the champion and store the predictions."""
    from roadtest.training.scoring import load_champion, predict_and_store

    model = load_champion(settings)
    predictions = predict_and_store(warehouse, model, None, pending_only=True)
    return {"model_version": model.version, "vehicles": predictions.height}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_demo(settings: Settings, api_port: int = 8000, dashboard_port: int = 8501) -> None:
    """Run the API and the dashboard on 127.0.0.1 until Ctrl+C (or one stops), then stop both.

    SIGTERM (a service manager's or ``kill``'s stop) is treated like Ctrl+C, so the two
    servers never outlive the demo.
    """
    import signal
    import subprocess
    import time

    from roadtest.dashboard.launch import streamlit_command

    roadtest = str(Path(sys.executable).with_name("roadtest"))
    processes = [
        subprocess.Popen([roadtest, "serve", "--host", "127.0.0.1", "--port", str(api_port)]),
        subprocess.Popen(streamlit_command("127.0.0.1", dashboard_port)),
    ]
    err_console.print(
        f"API:       http://127.0.0.1:{api_port}/v1/docs\n"
        f"dashboard: http://127.0.0.1:{dashboard_port}\n(Ctrl+C stops both)"
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        err_console.print("stopping")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


@app.command("train")
def train_models(
    models: Annotated[
        str, typer.Option(help="Comma-separated models: gru, lstm, gbm, logreg (and prior).")
    ] = "gru,lstm,gbm,logreg",
    truth: Annotated[
        Path | None,
        typer.Option(
            help="Simulator truth (KNR, p_fail) for the oracle's metrics on the test window; "
            "default HOME/truth/truth.parquet when it exists."
        ),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Most epochs of a GRU/LSTM (default 12).")
    ] = None,
    margin: Annotated[
        float,
        typer.Option(min=0.0, max=0.99, help="PR-AUC a challenger must gain to become champion."),
    ] = 0.01,
    seed: Annotated[int, typer.Option(help="Seed of the models.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Train and evaluate models, log the run to MLflow, register the best, maybe promote it."""
    require_extras("train", "train")
    import polars as pl

    from roadtest.models.recurrent import EpochLog
    from roadtest.training.pipeline import TrainConfig
    from roadtest.training.pipeline import train as run_training
    from roadtest.training.promotion import PromotionRule
    from roadtest.training.registry import Registry
    from roadtest.warehouse import Warehouse

    settings = Settings()
    default_truth = settings.home / "truth" / "truth.parquet"
    truth_path = truth
    if truth_path is None and default_truth.is_file():
        truth_path = default_truth
        err_console.print(f"oracle: comparing with the simulator's truth in {truth_path}")
    if truth_path is not None and not truth_path.is_file():
        raise fail(f"truth file not found: {truth_path}", code=2)
    try:
        config = TrainConfig.seeded(seed, epochs, promotion=PromotionRule(margin=margin))
        truth_table = None if truth_path is None else pl.read_parquet(truth_path)
    except (ValueError, OSError) as error:
        raise fail(str(error), code=2) from error

    def show_epoch(model: str, log: EpochLog) -> None:
        best = " (best so far)" if log.improved else ""
        err_console.print(
            f"{model} epoch {log.epoch}: train loss {log.train_loss:.4f}, valid loss "
            f"{log.valid_loss:.4f}, valid PR-AUC {log.valid_pr_auc:.4f}{best}"
        )

    warehouse = Warehouse.from_settings(settings)
    try:
        with show_progress() as progress:
            result = run_training(
                warehouse,
                Registry.from_settings(settings),
                models.split(","),
                config,
                truth=truth_table,
                progress=progress,
                on_epoch=show_epoch,
            )
    except ValueError as error:
        raise fail(str(error)) from error
    finally:
        warehouse.dispose()
    payload = result.to_dict()
    if as_json:
        print_json(payload)
    else:
        print_training(payload)


def _fmt_metric(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _fmt_cell(value: Any) -> str:
    return str(value) if isinstance(value, str | bool) else _fmt_metric(value)


def print_training(result: dict[str, Any]) -> None:
    """Show each model's test metrics, the oracle, and what became of the registered version."""
    window = result["test_window"]
    table = Table(title=f"test window {window['start']} → {window['end']}")
    columns = ("roc_auc", "pr_auc", "recall_at_10pct", "recall_at_20pct", "recall_at_30pct")
    headers = ("model", "ROC-AUC", "PR-AUC", "R@10%", "R@20%", "R@30%", "threshold")
    for header in headers:
        table.add_column(header)
    rows = [(name, m["test"]) for name, m in result["models"].items()]
    if result["oracle"] is not None:
        rows.append(("oracle", result["oracle"]))
    for name, metrics in rows:
        table.add_row(name, *(_fmt_metric(metrics[c]) for c in (*columns, "threshold")))
    out_console.print(table)
    outcome = "promoted to champion" if result["promoted"] else "kept as a challenger"
    out_console.print(
        f"run {result['run_id']}: registered version {result['registered_version']} "
        f"({result['best_model']}), {outcome}: {result['promotion_reason']}"
    )


@models_app.command("list")
def models_list(as_json: JsonOption = False) -> None:
    """Every registered version, with its test metrics and promotion status."""
    from roadtest.training.registry import Registry

    registry = Registry.from_settings(Settings())
    versions = [v.to_dict() for v in registry.list_versions()]
    champion = next((v["version"] for v in versions if v["champion"]), None)
    if as_json:
        print_json({"model": registry.model_name, "champion": champion, "versions": versions})
        return
    table = Table(title=f"model {registry.model_name} (champion: {champion or 'none'})")
    for column in ("version", "created", "kind", "test PR-AUC", "status", "reason"):
        table.add_column(column)
    for v in versions:
        tags = v["tags"]
        table.add_row(
            v["version"],
            v["created_at"][:19],
            tags.get("model_kind", ""),
            tags.get("test_pr_auc", ""),
            "champion" if v["champion"] else tags.get("promotion", ""),
            tags.get("promotion_reason", ""),
        )
    out_console.print(table)


@models_app.command("show")
def models_show(
    version: Annotated[str, typer.Argument(help="Version number.")], as_json: JsonOption = False
) -> None:
    """One version: its tags, and the parameters and test metrics of the run that made it."""
    from roadtest.training.registry import Registry, RegistryError

    try:
        details = Registry.from_settings(Settings()).version_details(version).to_dict()
    except RegistryError as error:
        raise fail(str(error), code=2) from error
    if as_json:
        print_json(details)
        return
    table = Table(title=f"version {details['version']} (run {details['run_id']})")
    table.add_column("item")
    table.add_column("value")
    table.add_row("champion", "yes" if details["champion"] else "no")
    table.add_row("created", details["created_at"])
    for key, value in sorted(details["tags"].items()):
        table.add_row(f"tag {key}", value)
    for key, value in sorted(details["params"].items()):
        if key.startswith(("lineage.", "split.", "data.", "models")):
            table.add_row(key, value)
    for key, value in sorted(details["metrics"].items()):
        if key.startswith("test/") and key.count("/") == 2:
            table.add_row(key, _fmt_metric(value))
    out_console.print(table)


@models_app.command("compare")
def models_compare(
    versions: Annotated[
        list[str] | None, typer.Argument(help="Versions to compare (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score registered versions side by side on the newest test window of the warehouse."""
    require_extras("models compare", "train")
    from roadtest.training.pipeline import compare_versions
    from roadtest.training.registry import Registry, RegistryError
    from roadtest.warehouse import Warehouse

    settings = Settings()
    warehouse = Warehouse.from_settings(settings)
    try:
        window, table = compare_versions(
            warehouse, Registry.from_settings(settings), versions or ()
        )
    except (RegistryError, ValueError) as error:
        raise fail(str(error)) from error
    finally:
        warehouse.dispose()
    if as_json:
        print_json(
            {
                "test_window": {"start": window[0].isoformat(), "end": window[1].isoformat()},
                "versions": table.fill_nan(None).to_dicts(),
            }
        )
        return
    shown = Table(title=f"test window {window[0]} → {window[1]}")
    columns = ["version", "kind", "champion", "roc_auc", "pr_auc", "recall_at_20pct", "threshold"]
    for column in columns:
        shown.add_column(column)
    for row in table.iter_rows(named=True):
        shown.add_row(*(_fmt_cell(row[c]) for c in columns))
    out_console.print(shown)


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Version to make the champion.")],
    as_json: JsonOption = False,
) -> None:
    """Make a version the champion by hand (recorded in the model-activation table)."""
    from roadtest.training.promotion import promote_by_hand
    from roadtest.training.registry import Registry, RegistryError
    from roadtest.warehouse import Warehouse

    settings = Settings()
    registry = Registry.from_settings(settings)
    warehouse = Warehouse.from_settings(settings)
    try:
        registry.version_info(version)
        previous = promote_by_hand(registry, warehouse, version)
    except RegistryError as error:
        raise fail(str(error), code=2) from error
    finally:
        warehouse.dispose()
    changed = previous != version
    payload = {"version": version, "previous_champion": previous, "changed": changed}
    if as_json:
        print_json(payload)
    elif changed:
        err_console.print(f"version {version} is the champion (was: {previous or 'none'})")
    else:
        err_console.print(f"version {version} already is the champion; nothing changed")


@app.command()
def predict(
    out: Annotated[Path, typer.Option(help="Output file: .csv or .parquet.")],
    knr: Annotated[
        list[str] | None, typer.Option("--knr", help="A vehicle to score (repeat for more).")
    ] = None,
    all_vehicles: Annotated[
        bool, typer.Option("--all", help="Score every vehicle in the warehouse.")
    ] = False,
    pending: Annotated[
        bool, typer.Option("--pending", help="Score the vehicles not yet road-tested.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Score vehicles with the champion; write the file and store the predictions."""
    from roadtest.training.registry import RegistryError
    from roadtest.training.scoring import load_champion, predict_and_store, write_predictions
    from roadtest.warehouse import Warehouse

    if sum((bool(knr), all_vehicles, pending)) != 1:
        raise fail("choose the vehicles: --knr KNR (repeatable), --all or --pending", code=2)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise fail(f"cannot write {out.name}: use a .csv or .parquet file", code=2)
    settings = Settings()
    try:
        model = load_champion(settings)
    except RegistryError as error:
        raise fail(str(error)) from error
    warehouse = Warehouse.from_settings(settings)
    try:
        with err_console.status(f"scoring with version {model.version} ({model.kind})"):
            predictions = predict_and_store(warehouse, model, knr or None, pending_only=pending)
    except ValueError as error:
        raise fail(str(error), code=2) from error
    finally:
        warehouse.dispose()
    write_predictions(predictions, out)
    flagged = int(predictions.get_column("decision").sum())
    payload = {
        "model_version": model.version,
        "model_kind": model.kind,
        "threshold": model.threshold,
        "vehicles": predictions.height,
        "flagged": flagged,
        "out": str(out),
    }
    if as_json:
        print_json(payload)
    else:
        err_console.print(
            f"scored {predictions.height} vehicle(s) with version {model.version}: "
            f"{flagged} flagged for the full road test; wrote {out}"
        )


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the dashboard.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
) -> None:
    """Serve the dashboard (Streamlit) over the stores of the ROADTEST_* settings."""
    require_extras("dashboard", "dashboard")
    import subprocess

    from roadtest.dashboard.launch import streamlit_command

    err_console.print(f"dashboard on http://{host}:{port} (Ctrl+C stops it)")
    try:
        code = subprocess.call(streamlit_command(host, port))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; more than one needs PostgreSQL.")
    ] = 1,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info or debug.")
    ] = "info",
) -> None:
    """Serve the prediction API (docs at /v1/docs) over the stores of the ROADTEST_* settings."""
    from roadtest.serving.server import ServeError, serve_api

    err_console.print(f"API on http://{host}:{port}/v1 ({workers} worker(s); Ctrl+C stops it)")
    try:
        serve_api(Settings(), host=host, port=port, workers=workers, log_level=log_level)
    except ServeError as error:
        raise fail(str(error), code=2) from error


def load_settings() -> Settings:
    """The settings of the environment, or an exit saying which variable is wrong."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"ROADTEST_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise fail(f"bad configuration: {problems}", code=2) from error


@app.command()
def monitor(
    once: Annotated[
        bool, typer.Option("--once", help="Run one round, exit 1 if a check failed.")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            min=1.0, help="Seconds between rounds (default ROADTEST_MONITOR_INTERVAL_SECONDS)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per round.")
    ] = False,
) -> None:
    """Check every service on an interval: history in the warehouse, Prometheus metrics.

    The metrics listen on ROADTEST_METRICS_HOST:ROADTEST_METRICS_PORT (127.0.0.1:9108
    by default) while the loop runs; SIGTERM or Ctrl+C stops it.
    """
    import logging
    import signal
    import threading

    from roadtest.monitor import Monitor, RoundReport

    settings = load_settings()
    if interval is not None:
        settings = settings.model_copy(update={"monitor_interval_seconds": interval})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    watcher = Monitor.from_settings(settings)

    def show(report: RoundReport) -> None:
        if as_json:
            sys.stdout.write(json.dumps(report.to_dict(), default=str) + "\n")
            sys.stdout.flush()
            return
        for r in report.results:
            state = "[green]ok[/]" if r.ok else "[bold red]DOWN[/]"
            err_console.print(f"{r.service:<10} {state} {r.latency_ms:8.1f} ms  {r.detail}")

    if once:
        report = watcher.run_round()
        show(report)
        raise typer.Exit(0 if report.all_ok else 1)
    try:
        server = watcher.metrics.serve(settings.metrics_host, settings.metrics_port)
    except OSError as error:
        raise fail(
            f"cannot listen for metrics on {settings.metrics_host}:{settings.metrics_port}: "
            f"{error}; set ROADTEST_METRICS_PORT to a free port",
            code=2,
        ) from error
    err_console.print(
        f"monitoring {len(watcher.checks)} services every {settings.monitor_interval_seconds:g} s; "
        f"metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        watcher.run_forever(stop, show)
    except KeyboardInterrupt:
        err_console.print("stopping")
    finally:
        server.shutdown()


@app.command()
def orchestrate(
    host: Annotated[
        str, typer.Option(help="Address of the Dagster UI (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the Dagster UI.")] = 3000,
) -> None:
    """Run Dagster (webserver and daemon) over the roadtest assets, sensors and schedule.

    Run state lives in DAGSTER_HOME (default HOME/dagster), in PostgreSQL when
    ROADTEST_DAGSTER_STORAGE_URL is set; the landing sensor,
    the retraining schedule and trigger, and the failure alert start switched on.
    The command becomes the Dagster process, so SIGTERM and Ctrl+C reach it directly.
    """
    require_extras("orchestrate", "orchestration", "train")
    import os

    from roadtest.orchestration.definitions import build_definitions
    from roadtest.orchestration.instance import STORAGE_URL_VARIABLE, instance_yaml

    settings = load_settings()
    try:
        build_definitions(settings)
    except Exception as error:
        raise fail(f"the orchestration cannot start: {error}", code=2) from error
    env = dict(os.environ)
    storage = settings.dagster_storage_url
    if not env.get("DAGSTER_HOME"):
        dagster_home = (settings.home / "dagster").resolve()
        dagster_home.mkdir(parents=True, exist_ok=True)
        (dagster_home / "dagster.yaml").write_text(instance_yaml(storage is not None))
        env["DAGSTER_HOME"] = str(dagster_home)
    if storage is not None:
        env[STORAGE_URL_VARIABLE] = storage.get_secret_value()
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [dagster, "dev", "-m", "roadtest.orchestration.definitions"]
    err_console.print(f"Dagster UI on http://{host}:{port} (Ctrl+C stops it)")
    os.execve(dagster, [*command, "--host", host, "--port", str(port)], env)
