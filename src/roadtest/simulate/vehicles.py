"""Vehicles: their configuration and when they pass each zone of the line.

Passage times are drawn in line time (see ``clock``): a vehicle enters ZP5 one
takt after the previous one, each zone takes its nominal time with a little
spread, and a few vehicles are held in a buffer for hours before the next zone
(waiting for a part, a repair). Shifts, weekends and line stops come in when
line time is turned into calendar time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from numpy.typing import NDArray

from roadtest.contracts.partner import ENGINES
from roadtest.simulate.layout import (
    COLOUR_SHARES,
    COLOURS,
    ENGINE_SHARES,
    LAST_PRE_ROAD_ZONE,
    MODEL_SHARES,
    MODELS,
    SEGMENT_MINUTES,
    TRIM_SHARES,
)

SEGMENT_SPREAD = 0.08
"""Log-normal spread of a zone's duration around its nominal time."""
SEGMENT_FLOOR = 0.93
"""No vehicle leaves a zone faster than this share of the nominal time."""
HOLD_SHARE = 0.015
HOLD_MEAN_HOURS = 3.0
"""Per pre-road-test zone: chance and mean length (line time) of a buffer hold."""


@dataclass(frozen=True)
class Vehicles:
    """Per-vehicle attributes, indexed by production order."""

    knr: pl.Series
    model: NDArray[np.int64]
    colour: NDArray[np.int64]
    engine: NDArray[np.int64]
    trim: NDArray[np.int64]

    @property
    def count(self) -> int:
        """Number of vehicles."""
        return len(self.knr)

    def attribute_series(self) -> dict[str, pl.Series]:
        """MODELO, COR and MOTOR of every vehicle as the FALHAS export writes them."""
        return {
            "MODELO": pl.Series(MODELS).gather(self.model),
            "COR": pl.Series(COLOURS).gather(self.colour),
            "MOTOR": pl.Series(ENGINES).gather(self.engine),
        }


def draw_vehicles(count: int, start: date, rng: np.random.Generator) -> Vehicles:
    """``count`` vehicles with consecutive KNRs of the start year and their configuration."""
    first_serial = int(rng.integers(100_000, 2_000_000))
    serials = pl.Series(np.arange(first_serial, first_serial + count, dtype=np.int64))
    knr = (f"{start.year}-" + serials.cast(pl.String).str.zfill(7)).alias("KNR")
    return Vehicles(
        knr=knr,
        model=rng.choice(len(MODELS), size=count, p=MODEL_SHARES),
        colour=rng.choice(len(COLOURS), size=count, p=COLOUR_SHARES),
        engine=rng.choice(len(ENGINES), size=count, p=ENGINE_SHARES),
        trim=rng.choice(len(TRIM_SHARES), size=count, p=TRIM_SHARES),
    )


def draw_passages(count: int, takt: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Line time of entering each zone of ZONE_CHAIN, plus leaving the last one.

    Shape (vehicles, zones + 1). Holds happen at the end of a zone, so a
    vehicle's tests in a zone are never delayed past its next passage.
    """
    entry = (np.arange(count) + rng.uniform(0.0, 0.3, count)) * takt
    nominal = SEGMENT_MINUTES * 60.0
    spread = np.exp(rng.normal(0.0, SEGMENT_SPREAD, (count, len(nominal))))
    durations = nominal * np.maximum(spread, SEGMENT_FLOOR)
    held = rng.random((count, LAST_PRE_ROAD_ZONE + 1)) < HOLD_SHARE
    holds = np.where(held, rng.exponential(HOLD_MEAN_HOURS * 3600.0, held.shape), 0.0)
    durations[:, : LAST_PRE_ROAD_ZONE + 1] += holds
    return np.concatenate((entry[:, None], entry[:, None] + np.cumsum(durations, axis=1)), axis=1)
