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
from typing import Annotated, Any

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
            total = self._progress.tasks[task].total
            self._progress.update(task, completed=total if total is not None else 1, total=total or 1)


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


@app.command()
def simulate(
    vehicles: Annotated[int, typer.Option(min=1, help="Number of vehicles to build.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same plant.")] = 7,
    out: Annotated[Path, typer.Option(help="Folder for the three export files.")] = Path(
        "exports"
    ),
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
    from roadtest.simulate import PlantConfig, simulate_plant, write_exports

    if fmt not in ("xlsx", "csv", "parquet"):
        raise fail(f"unknown format {fmt!r}: choose xlsx, csv or parquet", code=2)
    overrides: dict[str, Any] = {"vehicles": vehicles, "seed": seed}
    if start is not None:
        overrides["start"] = start.date()
    if rows_per_vehicle is not None:
        overrides["rows_per_vehicle"] = rows_per_vehicle
    config = PlantConfig(**overrides)
    truth_dir = truth if truth is not None else out.resolve().parent / "truth"
    with err_console.status(f"simulating {vehicles} vehicles (seed {seed})"):
        plant = simulate_plant(config)
    with err_console.status(f"writing {fmt} exports to {out}"):
        summary = write_exports(plant, out, fmt, truth_dir, seed=seed)  # type: ignore[arg-type]
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
    """Store partner exports in the lake: raw as received, valid rows in bronze, the rest quarantined."""
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
