"""Training cost of the GRU and LSTM against gradient boosting on the same vehicles.

    python bench/bench_train.py [--vehicles 20000] [--events 120] [--epochs 12] [--threads 1]

Synthetic vehicles with ``events/2``..``events`` events each (the order problem
of ``roadtest.models.synthetic``) are trained with the default recurrent
config for a fixed number of epochs (early stopping off), and a
HistGradientBoosting baseline (main target + failure groups one-vs-rest, as the
platform runs it) is fitted on the same vehicles' aggregated counts. Each
measurement runs in a fresh process so that its peak memory (getrusage
ru_maxrss) is its own; "data only" is the peak of the imports and the data
alone. Wall and CPU seconds are both shown: with one thread, CPU seconds are
what the work costs even when other jobs share the machine.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
from sklearn.metrics import average_precision_score

from roadtest.models.baseline import BaselineModel
from roadtest.models.onnx_scorer import OnnxScorer
from roadtest.models.recurrent import RecurrentConfig, export_onnx, fit_recurrent
from roadtest.models.synthetic import SyntheticSequences, make_order_sequences


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds: float
    cpu_seconds: float
    epochs: int
    peak_mib: float
    test_pr_auc: float


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _data(vehicles: int, events: int) -> tuple[SyntheticSequences, SyntheticSequences]:
    shape = {"min_events": max(2, events // 2), "max_events": events}
    train = make_order_sequences(vehicles, seed=1, **shape)
    valid = make_order_sequences(max(200, vehicles // 5), seed=2, **shape)
    return train, valid


def measure_data(vehicles: int, events: int, threads: int) -> Measurement:
    _data(vehicles, events)
    return Measurement("data only", 0.0, 0.0, 0, _peak_mib(), float("nan"))


def measure_recurrent(
    cell: str, vehicles: int, events: int, epochs: int, threads: int
) -> Measurement:
    train, valid = _data(vehicles, events)
    config = RecurrentConfig(max_epochs=epochs, patience=epochs, num_threads=threads)
    config = RecurrentConfig.from_dict(config.to_dict() | {"cell": cell})
    started, cpu = time.perf_counter(), _cpu_seconds()
    model = fit_recurrent(
        train.inputs, train.y, train.y_groups, valid.inputs, valid.y, valid.y_groups, config
    )
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    p_fail, _ = model.predict(valid.inputs)
    return Measurement(
        cell.upper(),
        seconds,
        cpu,
        len(model.history),
        _peak_mib(),
        average_precision_score(valid.y, p_fail),
    )


def measure_boosting(vehicles: int, events: int, epochs: int, threads: int) -> Measurement:
    train, valid = _data(vehicles, events)
    started, cpu = time.perf_counter(), _cpu_seconds()
    model = BaselineModel("boosting", n_threads=threads).fit(train.counts, train.y, train.y_groups)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    p_fail = model.predict_proba(valid.counts)
    return Measurement(
        "HistGradientBoosting",
        seconds,
        cpu,
        0,
        _peak_mib(),
        average_precision_score(valid.y, p_fail),
    )


def measure_onnx_scoring(vehicles: int, events: int, epochs: int, threads: int) -> Measurement:
    train, valid = _data(vehicles, events)
    small = train.inputs.take(np.arange(min(2000, vehicles)))
    config = RecurrentConfig(max_epochs=1, num_threads=threads)
    model = fit_recurrent(
        small, train.y[:2000], train.y_groups[:2000], valid.inputs, valid.y, valid.y_groups, config
    )
    scorer = OnnxScorer(export_onnx(model), num_threads=threads)
    started, cpu = time.perf_counter(), _cpu_seconds()
    scorer.predict(train.inputs)
    return Measurement(
        f"ONNX scoring of {vehicles}",
        time.perf_counter() - started,
        _cpu_seconds() - cpu,
        0,
        _peak_mib(),
        float("nan"),
    )


def _run(function: Callable[..., Measurement], *args: object) -> Measurement:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=20_000)
    parser.add_argument(
        "--events", type=int, default=120, help="longest sequence; shortest is half"
    )
    parser.add_argument("--epochs", type=int, default=12, help="fixed epochs (default config: 12)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    size = (args.vehicles, args.events)
    print(
        f"{args.vehicles} vehicles, {args.events // 2}..{args.events} events, "
        f"{args.epochs} epochs, {args.threads} thread(s)"
    )
    steps: list[tuple[Callable[..., Measurement], tuple[object, ...]]] = [
        (measure_data, (*size, args.threads)),
        (measure_boosting, (*size, args.epochs, args.threads)),
        (measure_recurrent, ("gru", *size, args.epochs, args.threads)),
        (measure_recurrent, ("lstm", *size, args.epochs, args.threads)),
        (measure_onnx_scoring, (*size, args.epochs, args.threads)),
    ]
    header = ("wall s", "CPU s", "CPU s/ep", "x boosting", "peak MiB", "valid AP")
    print(f"{'what':<22}" + "".join(f"{h:>11}" for h in header), flush=True)
    boosting = math.nan
    for function, arguments in steps:
        r = _run(function, *arguments)
        if r.name == "HistGradientBoosting":
            boosting = r.cpu_seconds
        cells = [
            f"{r.seconds:.1f}",
            f"{r.cpu_seconds:.1f}",
            f"{r.cpu_seconds / r.epochs:.1f}" if r.epochs else "",
            f"{r.cpu_seconds / boosting:.1f}" if r.cpu_seconds else "",
            f"{r.peak_mib:.0f}",
            "" if math.isnan(r.test_pr_auc) else f"{r.test_pr_auc:.3f}",
        ]
        print(f"{r.name:<22}" + "".join(f"{c:>11}" for c in cells), flush=True)
    print("x boosting: CPU seconds relative to the boosting fit (robust to a busy machine)")


if __name__ == "__main__":
    main()
