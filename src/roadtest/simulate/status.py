"""STATUS: body tracking, one row per rail-sensor passage.

Every vehicle passes the main chain (R750 … M800) and, between two main zones,
some of the ~100 other sensors of that stretch. The export's known defects are
made here: about a fifth of vehicles miss one or two ZP5→ZP7 passages, and a
few have a passage stamped before the previous one (a negative gap).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from roadtest.simulate.clock import LineClock
from roadtest.simulate.layout import LAST_PRE_ROAD_ZONE, ROD_ZONE, ZONE_CODES, PlantLayout

NEGATIVE_GAP_SECONDS = (60.0, 5400.0)
"""How far before the previous passage a mis-stamped passage lands."""
SECOND_MISSING_SHARE = 0.5
"""Of vehicles with a gap in the chain, the share missing two passages rather than one."""
TRAILING_SPACE_SHARE = 0.005


def chain_quirks(
    chain: NDArray[np.float64],
    missing_share: float,
    negative_share: float,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Exported chain times (some mis-stamped) and which passages were recorded at all."""
    count = len(chain)
    stamped = chain.copy()
    shifted = np.flatnonzero(rng.random(count) < negative_share)
    zone = rng.integers(1, LAST_PRE_ROAD_ZONE + 1, len(shifted))
    stamped[shifted, zone] = stamped[shifted, zone - 1] - rng.uniform(
        *NEGATIVE_GAP_SECONDS, len(shifted)
    )
    recorded = np.ones(chain.shape, dtype=bool)
    gappy = np.flatnonzero(rng.random(count) < missing_share)
    recorded[gappy, rng.integers(0, LAST_PRE_ROAD_ZONE + 1, len(gappy))] = False
    twice = gappy[rng.random(len(gappy)) < SECOND_MISSING_SHARE]
    recorded[twice, rng.integers(0, LAST_PRE_ROAD_ZONE + 1, len(twice))] = False
    return stamped, recorded


def status_rows(
    passages: NDArray[np.float64],
    clock: LineClock,
    reaches_road_test: NDArray[np.bool_],
    layout: PlantLayout,
    knr: pl.Series,
    shares: tuple[float, float],
    rng: np.random.Generator,
) -> pl.DataFrame:
    """STATUS rows (KNR, STATUS, ``_seconds``) of every vehicle, quirks included.

    Vehicles whose road test is not over at export time get no M710 row and no
    sensor row after it: the export does not show a road test in progress.
    """
    count = len(passages)
    chain_calendar = clock.to_calendar(passages[:, : len(ZONE_CODES)])
    stamped, recorded = chain_quirks(chain_calendar, *shares, rng)
    recorded[:, ROD_ZONE:] &= reaches_road_test[:, None]
    segment = layout.sensor_segment
    passed = rng.random((count, len(segment))) < layout.sensor_pass_rate
    passed[:, segment >= ROD_ZONE] &= reaches_road_test[:, None]
    vehicle, sensor = np.nonzero(passed)
    begin = passages[vehicle, segment[sensor]]
    end = passages[vehicle, segment[sensor] + 1]
    sensor_time = clock.to_calendar(begin + layout.sensor_position[sensor] * (end - begin))
    chain_vehicle, chain_zone = np.nonzero(recorded)
    codes = pl.Series([*ZONE_CODES, *layout.sensor_codes])
    code = codes.gather(np.concatenate((chain_zone, len(ZONE_CODES) + sensor)))
    spaced = rng.random(len(code)) < TRAILING_SPACE_SHARE
    return pl.DataFrame(
        {
            "KNR": knr.gather(np.concatenate((chain_vehicle, vehicle))),
            "STATUS": pl.select(
                pl.when(pl.Series(spaced)).then(code + " ").otherwise(code)
            ).to_series(),
            "_seconds": np.floor(np.concatenate((stamped[chain_vehicle, chain_zone], sensor_time))),
        }
    )
