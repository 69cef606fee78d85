"""Line time versus calendar time: shifts, breaks, weekends and line stops.

Vehicles move on *line time*: seconds during which the line runs. A vehicle's
passage times are sums of line-time durations, which keeps the generation
column-wise; one mapping turns line time into calendar time. Shifts, breaks and
weekends are gaps in the calendar; an unplanned line stop consumes running time,
so a long stop late in a shift carries on the next morning (an overnight stop)
and every vehicle on the line at that moment sits longer in its zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

HOUR = 3600.0
DAY = 24 * HOUR

RUNNING_WINDOWS: dict[int, tuple[tuple[float, float], ...]] = {
    1: ((6 * HOUR, 10 * HOUR), (10.5 * HOUR, 14 * HOUR)),
    2: ((6 * HOUR, 10 * HOUR), (10.5 * HOUR, 18 * HOUR), (18.5 * HOUR, 22 * HOUR)),
    3: (
        (0.0, 2 * HOUR),
        (2.5 * HOUR, 10 * HOUR),
        (10.5 * HOUR, 18 * HOUR),
        (18.5 * HOUR, 24 * HOUR),
    ),
}
"""Seconds of the day the line runs, per number of shifts (each shift has a 30 min break)."""

SHORT_STOP_MEDIAN_S = 10 * 60.0
LONG_STOP_SHARE = 0.1
LONG_STOP_HOURS = (2.0, 12.0)


@dataclass(frozen=True)
class LineClock:
    """Maps line time (running seconds since the first vehicle) to calendar time."""

    origin: datetime
    """Midnight of the start date; calendar seconds count from here."""
    window_start: NDArray[np.float64]
    """Calendar second at which each running window opens."""
    run_start: NDArray[np.float64]
    """Running seconds elapsed before each window opens."""
    stop_at: NDArray[np.float64]
    """Line time at which each unplanned stop begins (sorted)."""
    stop_before: NDArray[np.float64]
    """Total stop duration of all stops before stop i (length: stops + 1)."""

    def to_calendar(self, line_time: NDArray[np.float64]) -> NDArray[np.float64]:
        """Calendar seconds since ``origin`` of each line time."""
        consumed = self.stop_before[np.searchsorted(self.stop_at, line_time, side="left")]
        running = line_time + consumed
        window = np.searchsorted(self.run_start, running, side="right") - 1
        return self.window_start[window] + (running - self.run_start[window])

    @property
    def origin_us(self) -> int:
        """``origin`` as microseconds since the Unix epoch (for Datetime columns)."""
        return int((self.origin - datetime(1970, 1, 1)).total_seconds()) * 1_000_000

    def to_datetime(self, calendar_seconds: float) -> datetime:
        """One calendar second as a timestamp (for cut-off and drift dates)."""
        return self.origin + timedelta(seconds=float(calendar_seconds))


def build_clock(
    start: date,
    shifts_per_day: int,
    stops_per_day: float,
    horizon: float,
    rng: np.random.Generator,
) -> LineClock:
    """A clock covering at least ``horizon`` seconds of line time plus its stops."""
    windows = RUNNING_WINDOWS[shifts_per_day]
    running_per_day = sum(end - begin for begin, end in windows)
    n_stops = int(rng.poisson(stops_per_day * horizon / running_per_day))
    stop_at = np.sort(rng.uniform(0.0, horizon, n_stops))
    durations = draw_stop_durations(n_stops, rng)
    stop_before = np.concatenate(([0.0], np.cumsum(durations)))
    needed = horizon + float(stop_before[-1]) + running_per_day
    working_days = int(np.ceil(needed / running_per_day)) + 1
    day_offsets = working_day_offsets(start, working_days)
    begins = np.array([begin for begin, _ in windows])
    lengths = np.array([end - begin for begin, end in windows])
    window_start = (day_offsets[:, None] * DAY + begins[None, :]).ravel()
    run_start = np.concatenate(([0.0], np.cumsum(np.tile(lengths, working_days))[:-1]))
    origin = datetime(start.year, start.month, start.day)
    return LineClock(origin, window_start, run_start, stop_at, stop_before)


def draw_stop_durations(n_stops: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Mostly short stops (minutes), about one in ten long enough to last overnight."""
    short = SHORT_STOP_MEDIAN_S * np.exp(rng.normal(0.0, 0.8, n_stops))
    long_ = rng.uniform(*LONG_STOP_HOURS, n_stops) * HOUR
    return np.where(rng.random(n_stops) < LONG_STOP_SHARE, long_, short)


def working_day_offsets(start: date, count: int) -> NDArray[np.float64]:
    """Day offsets from ``start`` of the first ``count`` weekdays (Mon–Fri)."""
    span = count * 7 // 5 + 7
    weekdays = (start.weekday() + np.arange(span)) % 7
    return np.flatnonzero(weekdays < 5)[:count].astype(np.float64)
