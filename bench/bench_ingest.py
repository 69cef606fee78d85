"""Ingest throughput per export format, as a ratio to a bare Polars read of the same files.

Simulates a plant, writes its exports as xlsx, csv and parquet, ingests each
format into a fresh local lake and times it against reading the same files
with Polars alone (all cells as text, no validation, no lake). The ratio says
what validation, lineage, raw storage and Delta commits cost on top of parsing.

    python bench/bench_ingest.py [--vehicles 20000] [--formats xlsx csv parquet]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from roadtest.lake import Lake, ingest_paths
from roadtest.lake.readers import decode_text, sniff_csv_header
from roadtest.simulate import PlantConfig, simulate_plant, write_exports

FORMATS = ("xlsx", "csv", "parquet")


@dataclass(frozen=True)
class Measurement:
    """One format's timings."""

    fmt: str
    files: int
    megabytes: float
    rows: int
    bare_s: float
    ingest_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.ingest_s

    @property
    def ratio(self) -> float:
        return self.ingest_s / self.bare_s


def bare_read(path: Path) -> pl.DataFrame | dict[str, pl.DataFrame]:
    """What a plain Polars user would do to load the file, all columns as text."""
    if path.suffix == ".xlsx":
        return pl.read_excel(path, sheet_id=0, engine="calamine", infer_schema_length=0)
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    text, encoding = decode_text(path.read_bytes()[: 1 << 16])
    sniffed = sniff_csv_header(text.split("\n"))
    separator = sniffed[0] if sniffed else ","
    skip = sniffed[1].row_index if sniffed else 0
    polars_encoding = "utf8" if encoding == "utf-8-sig" else "utf8-lossy"
    return pl.read_csv(
        path, separator=separator, skip_lines=skip, infer_schema=False, encoding=polars_encoding
    )


def measure(fmt: str, files: list[Path], workdir: Path) -> Measurement:
    bare_s = 0.0
    for path in files:
        start = time.perf_counter()
        bare_read(path)
        bare_s += time.perf_counter() - start
    lake = Lake(str(workdir / f"lake-{fmt}"))
    start = time.perf_counter()
    summary = ingest_paths(lake, files)
    ingest_s = time.perf_counter() - start
    if not summary.ok:
        raise SystemExit(f"{fmt}: ingestion rejected files: {summary.to_dict()['files']}")
    return Measurement(
        fmt=fmt,
        files=len(files),
        megabytes=sum(p.stat().st_size for p in files) / 1e6,
        rows=summary.totals["rows_read"],
        bare_s=bare_s,
        ingest_s=ingest_s,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=20000)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    args = parser.parse_args()

    start = time.perf_counter()
    plant = simulate_plant(PlantConfig(vehicles=args.vehicles))
    print(f"simulated {args.vehicles} vehicles in {time.perf_counter() - start:.1f} s")
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        for fmt in args.formats:
            out_dir = workdir / fmt
            start = time.perf_counter()
            write_exports(plant, out_dir, fmt, workdir / "truth")
            print(f"wrote {fmt} exports in {time.perf_counter() - start:.1f} s")
            files = sorted(p for p in out_dir.rglob("*") if p.is_file())
            results.append(measure(fmt, files, workdir))

    print()
    print(
        f"{'format':<8}{'files':>6}{'MB':>9}{'rows':>11}{'polars s':>10}"
        f"{'ingest s':>10}{'rows/s':>11}{'ratio':>8}"
    )
    for m in results:
        print(
            f"{m.fmt:<8}{m.files:>6}{m.megabytes:>9.1f}{m.rows:>11,}{m.bare_s:>10.2f}"
            f"{m.ingest_s:>10.2f}{m.rows_per_s:>11,.0f}{m.ratio:>8.1f}"
        )
    print("ratio = ingest time / bare Polars read time of the same files (lower is better)")


if __name__ == "__main__":
    main()
