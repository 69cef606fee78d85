"""Feature building time, and the sequence granularity choice, measured side by side.

Simulates a plant, builds its warehouse marts (validate_rows → run_transforms),
splits it by time and fits the feature spec on the training vehicles, then
times, for every vehicle:

- floor: a bare Polars group-by of the events by vehicle (the least any
  per-vehicle feature step must read);
- tabular: ``build_tabular``;
- sequences with program-visit steps (the default) and with one step per
  event, each with the ``max_len`` the model would use, printing the
  sequence lengths, how many vehicles are cut, the padded array sizes and
  the time as a ratio to the floor.

With ``--model`` it also trains the default GRU on each granularity (same
split, same seed) and prints validation-picked test PR-AUC and the training
time, which is what the length costs and buys.

With ``--engines`` it compares how the feature plans run (``features.plans``):
Polars' default streaming engine, the in-memory engine always optimised, and
the in-memory engine skipping the optimiser for small inputs (what the product
does), for one vehicle at a time (an API request) and for the whole plant.

    python bench/bench_features.py [--vehicles 2000] [--model] [--engines] [--event-max-len 256]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score

from roadtest.contracts.partner import PARTNER_COLUMNS, SourceTable
from roadtest.etl.engines import run_transforms
from roadtest.features import (
    FeatureSpec,
    SequenceConfig,
    build_sequences,
    build_tabular,
    fit_feature_spec,
    plans,
)
from roadtest.lake.validate import validate_rows
from roadtest.models.inputs import SequenceInputs
from roadtest.simulate import PlantConfig, simulate_plant
from roadtest.training.split import Split, time_split

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float, float]:
    """Result, best wall seconds and the CPU seconds of that run."""
    best: tuple[float, float] = (float("inf"), 0.0)
    result: T | None = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        took = (time.perf_counter() - wall, time.process_time() - cpu)
        best = min(best, took)
    assert result is not None
    return result, best[0], best[1]


def warehouse_of(vehicles: int, seed: int) -> dict[str, pl.DataFrame]:
    """The marts and labels of a simulated plant, through the lake's validation and the ETL."""
    plant = simulate_plant(PlantConfig(vehicles=vehicles, seed=seed))
    bronze = {}
    for table, frame in plant.tables().items():
        text = frame.select(PARTNER_COLUMNS[table]).with_columns(
            pl.col(pl.Datetime).dt.to_string("%Y-%m-%d %H:%M:%S"),
            pl.all().exclude(pl.Datetime).cast(pl.String),
        )
        raw = text.with_columns(
            pl.lit("0" * 64).alias("_file_hash"),
            pl.lit(f"{table.value}.csv").alias("_source_file"),
            pl.lit(None, pl.String).alias("_sheet"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row_number"),
            pl.lit(0).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
        )
        bronze[SourceTable(table)] = validate_rows(raw, SourceTable(table))[0]
    return run_transforms(
        bronze, tables=["vehicle_label", "mart_vehicle_features", "mart_vehicle_events"]
    )


def describe(name: str, inputs: SequenceInputs, max_len: int, seconds: float, floor: float) -> None:
    lengths = inputs.lengths
    cut = float(np.mean(lengths >= max_len))
    megabytes = (inputs.categorical.nbytes + inputs.numeric.nbytes) / 2**20
    print(
        f"  {name:<22} {seconds:7.2f} s  ({seconds / floor:5.1f}x floor)  steps mean "
        f"{lengths.mean():6.1f} p99 {np.percentile(lengths, 99):5.0f} max {lengths.max():4d}  "
        f"at the cap of {max_len}: {cut:6.1%}  arrays {megabytes:7.1f} MiB"
    )


def labels_of(table: pl.DataFrame, knrs: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    ordered = pl.DataFrame({"knr": list(knrs)}).join(
        table, on="knr", how="left", maintain_order="left"
    )
    groups = [c for c in table.columns if c.startswith("fails_")]
    y = ordered.get_column("road_test_failed").to_numpy().astype(np.int8)
    return y, ordered.select(groups).to_numpy().astype(np.int8)


def train_and_score(
    events: pl.DataFrame,
    features: pl.DataFrame,
    labels: pl.DataFrame,
    split: Split,
    spec: FeatureSpec,
) -> tuple[float, float, float]:
    """(validation PR-AUC, test PR-AUC, training seconds) of the default GRU."""
    from roadtest.models.recurrent import RecurrentConfig, fit_recurrent

    parts = {
        name: build_sequences(events, features, spec.sequence, knrs)
        for name, knrs in (
            ("train", split.train_knrs),
            ("valid", split.valid_knrs),
            ("test", split.test_knrs),
        )
    }
    targets = {name: labels_of(labels, getattr(split, f"{name}_knrs")) for name in parts}
    start = time.perf_counter()
    model = fit_recurrent(
        parts["train"], *targets["train"], parts["valid"], *targets["valid"], RecurrentConfig()
    )
    seconds = time.perf_counter() - start
    scores = {
        name: float(average_precision_score(targets[name][0], model.predict(parts[name])[0]))
        for name in ("valid", "test")
    }
    return scores["valid"], scores["test"], seconds


ENGINE_VARIANTS: dict[str, tuple[str, int]] = {
    "streaming (Polars default)": ("streaming", 0),
    "in-memory, always optimised": ("in-memory", 0),
    "in-memory, small unoptimised": ("in-memory", plans.SMALL_INPUT_ROWS),
}
"""Name -> (engine, SMALL_INPUT_ROWS); the last is the product's setting."""


def compare_engines(
    events: pl.DataFrame, features: pl.DataFrame, spec: FeatureSpec, knrs: list[str], repeat: int
) -> None:
    """One vehicle per call and the whole plant, under each way of running the plans.

    The variants take turns, ``repeat`` rounds, best round kept: on a busy machine a
    variant timed alone could catch a quiet or a noisy minute the others did not.
    """
    per_vehicle = [
        (features.filter(pl.col("knr") == k), events.filter(pl.col("knr") == k)) for k in knrs[:100]
    ]

    def one_by_one() -> int:
        for f, e in per_vehicle:
            build_sequences(e, f, spec.sequence, f.get_column("knr").to_list())
        return len(per_vehicle)

    def plant() -> int:
        build_sequences(events, features, spec.sequence, knrs)
        build_tabular(features, events, spec.tabular)
        return len(knrs)

    chosen = (plans.ENGINE, plans.SMALL_INPUT_ROWS)
    results = {name: (float("inf"), float("inf")) for name in ENGINE_VARIANTS}
    try:
        for _ in range(repeat):
            for name, (engine, small) in ENGINE_VARIANTS.items():
                plans.ENGINE, plans.SMALL_INPUT_ROWS = engine, small  # type: ignore[misc]
                count, one_s, _ = timed(one_by_one)
                _, plant_s, _ = timed(plant)
                best_one, best_plant = results[name]
                results[name] = (min(best_one, one_s / count * 1000), min(best_plant, plant_s))
    finally:
        plans.ENGINE, plans.SMALL_INPUT_ROWS = chosen  # type: ignore[misc]
    ours_one, ours_plant = results["in-memory, small unoptimised"]
    print("feature plans (sequences of one vehicle per call; sequences + table of the plant):")
    for name, (one_ms, plant_s) in results.items():
        print(
            f"  {name:<30} one vehicle {one_ms:6.2f} ms ({one_ms / ours_one:4.2f}x ours)   "
            f"plant {plant_s:6.2f} s ({plant_s / ours_plant:4.2f}x ours)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--event-max-len", type=int, default=256)
    parser.add_argument("--model", action="store_true", help="also train a GRU per granularity")
    parser.add_argument("--engines", action="store_true", help="also compare plan engines")
    args = parser.parse_args()

    warehouse, etl_s, _ = timed(lambda: warehouse_of(args.vehicles, args.seed))
    events = warehouse["mart_vehicle_events"]
    features = warehouse["mart_vehicle_features"]
    labels = warehouse["vehicle_label"]
    knrs = features.get_column("knr").to_list()
    print(
        f"{args.vehicles} vehicles: {events.height:,} events, marts built in {etl_s:.1f} s "
        "(simulate + validate + ETL)"
    )
    split = time_split(labels)
    train = features.filter(pl.col("knr").is_in(list(split.train_knrs)))
    train_events = events.join(train.select("knr"), on="knr", how="semi")
    spec, fit_s, fit_cpu = timed(lambda: fit_feature_spec(train, train_events))
    print(
        f"fit_feature_spec on {train.height} training vehicles: {fit_s:.2f} s (cpu {fit_cpu:.2f})"
    )

    _, floor, floor_cpu = timed(
        lambda: events.group_by("knr").agg(pl.len(), pl.col("value").max()), args.repeat
    )
    print(f"  {'floor (group-by knr)':<22} {floor:7.2f} s  cpu {floor_cpu:.2f}")
    _, tab_s, tab_cpu = timed(lambda: build_tabular(features, events, spec.tabular), args.repeat)
    print(
        f"  {'build_tabular':<22} {tab_s:7.2f} s  ({tab_s / floor:5.1f}x floor)  cpu {tab_cpu:.2f}"
    )

    variants = {
        "program_visit": spec,
        "event": fit_feature_spec(
            train,
            train_events,
            sequence_config=SequenceConfig(granularity="event", max_len=args.event_max_len),
        ),
    }
    for name, variant in variants.items():
        built, seconds, cpu = timed(
            partial(build_sequences, events, features, variant.sequence, knrs), args.repeat
        )
        describe(f"sequences {name}", built, variant.sequence.config.max_len, seconds, floor)
        print(f"  {'':<22} cpu {cpu:.2f} s")

    if args.engines:
        compare_engines(events, features, spec, knrs, args.repeat)

    if args.model:
        for name, variant in variants.items():
            valid_ap, test_ap, seconds = train_and_score(events, features, labels, split, variant)
            print(
                f"  GRU on {name:<14} valid PR-AUC {valid_ap:.3f}  test PR-AUC {test_ap:.3f}  "
                f"trained in {seconds:6.1f} s"
            )


if __name__ == "__main__":
    main()
