"""The time split: train on the oldest labelled vehicles, validate on newer, test on the newest.

Vehicles are ordered by road-test start, the moment their label begins to
exist, so every validation vehicle started its road test after every training
vehicle, and every test vehicle after every validation one. Vehicles sharing
the start at a boundary all go to the OLDER part: the parts never overlap in
time, and the choice does not depend on the input's row order. The test part
keeps the natural class balance; nothing is resampled here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

import numpy as np
import polars as pl

PARTS: Final = ("train", "valid", "test")


@dataclass(frozen=True)
class Split:
    """KNRs of each part, oldest first, and each part's (first, last) road-test start."""

    train_knrs: tuple[str, ...]
    valid_knrs: tuple[str, ...]
    test_knrs: tuple[str, ...]
    windows: dict[str, tuple[datetime, datetime]]


def _check_fractions(valid_fraction: float, test_fraction: float) -> None:
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    if valid_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"valid_fraction + test_fraction must leave vehicles to train on, got "
            f"{valid_fraction} + {test_fraction}"
        )


def _ordered(labels: pl.DataFrame) -> pl.DataFrame:
    """Labelled vehicles sorted by road-test start (KNR breaks ties), after checking them."""
    missing = [c for c in ("knr", "road_test_start_at", "road_test_failed") if c not in labels]
    if missing:
        raise ValueError(
            f"the label table lacks the column(s) {', '.join(missing)}; pass vehicle_label rows"
        )
    frame = labels.select("knr", "road_test_start_at", "road_test_failed")
    if not isinstance(frame.schema["road_test_start_at"], pl.Datetime):
        raise ValueError(
            "road_test_start_at must be a date-time column, got "
            f"{frame.schema['road_test_start_at']}"
        )
    undated = frame.filter(pl.col("road_test_start_at").is_null()).height
    if undated:
        raise ValueError(
            f"{undated} vehicle(s) have no road-test start: only labelled vehicles can be split"
        )
    repeated = frame.filter(pl.col("knr").is_duplicated()).get_column("knr").unique()
    if repeated.len():
        raise ValueError(
            f"{repeated.len()} KNR(s) appear more than once in the labels, e.g. {repeated[0]}"
        )
    return frame.sort("road_test_start_at", "knr")


def _cut(starts: np.ndarray, index: int) -> int:
    """``index`` moved forward past every vehicle sharing the start just before it."""
    if index <= 0:
        return 0
    return int(np.searchsorted(starts, starts[index - 1], side="right"))


def _window(part: pl.DataFrame) -> tuple[datetime, datetime]:
    starts = part.get_column("road_test_start_at")
    return cast(datetime, starts.min()), cast(datetime, starts.max())


def _check_part(name: str, part: pl.DataFrame, min_vehicles: int) -> None:
    if part.height < min_vehicles:
        raise ValueError(
            f"the {name} part would hold {part.height} vehicle(s), fewer than the "
            f"{min_vehicles} needed; label more vehicles or change the fractions "
            "(vehicles sharing a road-test start at a boundary stay together)"
        )
    if not part.get_column("road_test_failed").any():
        first, last = _window(part)
        raise ValueError(
            f"the {name} part ({part.height} vehicles, road tests {first} to {last}) has no "
            "vehicle that failed the road test, so it can neither train nor measure a model; "
            "label a longer period or change the fractions"
        )


def time_split(
    labels: pl.DataFrame,
    valid_fraction: float = 0.15,
    test_fraction: float = 0.15,
    *,
    min_vehicles: int = 10,
) -> Split:
    """Split labelled vehicles (vehicle_label rows) by road-test start time.

    The newest ``test_fraction`` of vehicles form the test part, the
    ``valid_fraction`` before them the validation part, the rest trains
    (rounded to whole vehicles; boundary ties go to the older part). Refuses
    when a part would have fewer than ``min_vehicles`` vehicles or no failure.
    """
    _check_fractions(valid_fraction, test_fraction)
    ordered = _ordered(labels)
    total = ordered.height
    starts = ordered.get_column("road_test_start_at").to_numpy()
    valid_at = _cut(starts, total - round(total * (valid_fraction + test_fraction)))
    test_at = max(_cut(starts, total - round(total * test_fraction)), valid_at)
    parts = {
        "train": ordered.slice(0, valid_at),
        "valid": ordered.slice(valid_at, test_at - valid_at),
        "test": ordered.slice(test_at),
    }
    for name in PARTS:
        _check_part(name, parts[name], min_vehicles)
    knrs = {name: tuple(parts[name].get_column("knr").to_list()) for name in PARTS}
    return Split(
        train_knrs=knrs["train"],
        valid_knrs=knrs["valid"],
        test_knrs=knrs["test"],
        windows={name: _window(parts[name]) for name in PARTS},
    )
