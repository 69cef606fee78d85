"""Benchmark of the plant simulator and its export writers.

    python bench/bench_simulate.py [--vehicles 20000] [--rows-per-vehicle 200] [--xlsx]

Times ``simulate_plant`` and, side by side in the same run, ``write_exports``
to parquet and csv (optionally xlsx, timed once) against a bare polars
``write_parquet`` of the same three frames (best of ``--repeat``), printing rows
per second and the ratio to the bare write.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from roadtest.simulate import PlantConfig, SimulatedPlant, simulate_plant, write_exports


def timed(action: Callable[[], object], repeat: int = 1) -> tuple[float, float]:
    """Best wall-clock and CPU seconds of ``repeat`` calls.

    CPU time is printed too: on a busy machine wall time waits for other jobs.
    """
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        begin, cpu = time.perf_counter(), time.process_time()
        action()
        best_wall = min(best_wall, time.perf_counter() - begin)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def bare_parquet(plant: SimulatedPlant, folder: Path) -> None:
    """The reference: polars writing the three frames, nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in plant.tables().items():
        frame.write_parquet(folder / f"{table.value}.parquet")


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=20_000)
    parser.add_argument("--rows-per-vehicle", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--xlsx", action="store_true", help="also time the xlsx writer")
    parser.add_argument("--repeat", type=int, default=3, help="writes timed best of N")
    args = parser.parse_args()

    config = PlantConfig(
        vehicles=args.vehicles, seed=args.seed, rows_per_vehicle=args.rows_per_vehicle
    )
    holder: list[SimulatedPlant] = []
    simulate_s, simulate_cpu = timed(lambda: holder.append(simulate_plant(config)))
    plant = holder[0]
    rows = sum(frame.height for frame in plant.tables().values())
    print(
        f"simulate_plant   {args.vehicles} vehicles, {rows:,} rows "
        f"({plant.resultados.height:,} RESULTADOS): {simulate_s:6.2f} s "
        f"(cpu {simulate_cpu:.2f} s), {rows / simulate_s:,.0f} rows/s"
    )
    formats = ["parquet", "csv", *(["xlsx"] if args.xlsx else [])]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare_s, bare_cpu = timed(lambda: bare_parquet(plant, root / "bare"), args.repeat)
        print(
            f"bare polars      write_parquet: {bare_s:6.2f} s (cpu {bare_cpu:.2f} s), "
            f"{rows / bare_s:,.0f} rows/s"
        )
        for fmt in formats:
            seconds, cpu = timed(
                lambda fmt=fmt: write_exports(  # type: ignore[misc]
                    plant, root / fmt / "exports", fmt, root / fmt / "truth", seed=args.seed
                ),
                1 if fmt == "xlsx" else args.repeat,
            )
            print(
                f"write_exports    {fmt:7s}: {seconds:6.2f} s (cpu {cpu:.2f} s), "
                f"{rows / seconds:,.0f} rows/s, {seconds / bare_s:5.1f}x bare write_parquet"
            )


if __name__ == "__main__":
    main()
