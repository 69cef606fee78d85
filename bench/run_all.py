"""Run every benchmark of this folder in turn at one plant size (``make bench``).

Each benchmark is a script of its own that prints its ratios side by side; this
runner only starts them one after another (never in parallel: two benchmarks
would measure each other) and says at the end which ones failed. The targets of
the issues are measured at 20,000 vehicles; the default here is smaller so that
the whole set finishes in reasonable time on 2 cores.

    python bench/run_all.py [--vehicles 2000] [--only api etl]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BENCHMARKS = ("simulate", "ingest", "transforms", "etl", "features", "train", "api")
"""Run in the order of the data flow; each name is ``bench_<name>.py``."""

QUICK_ARGUMENTS = {
    "etl": ["--no-spark"],
    "transforms": ["--no-spark"],
    "train": ["--epochs", "3"],
    "api": ["--duration", "10", "--load-seconds", "30"],
}
"""Shorter settings for the set run; each script's own defaults are the reference ones."""


def run_benchmark(name: str, vehicles: int) -> tuple[int, float]:
    """Run one benchmark in a fresh process; its output goes straight to the terminal."""
    command = [
        sys.executable,
        str(BENCH_DIR / f"bench_{name}.py"),
        "--vehicles",
        str(vehicles),
        *QUICK_ARGUMENTS.get(name, []),
    ]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    code = subprocess.run(command, check=False).returncode
    return code, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = parser.parse_args()
    results = {name: run_benchmark(name, args.vehicles) for name in args.only}
    print("\n=== summary")
    for name, (code, seconds) in results.items():
        print(f"{name:12} {'ok' if code == 0 else f'FAILED (exit {code})':20} {seconds:8.1f} s")
    sys.exit(1 if any(code for code, _ in results.values()) else 0)


if __name__ == "__main__":
    main()
