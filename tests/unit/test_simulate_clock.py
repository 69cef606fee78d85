"""Line time to calendar time: shifts, breaks, weekends and line stops."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roadtest.simulate.clock import DAY, HOUR, RUNNING_WINDOWS, LineClock, build_clock

MONDAY = date(2024, 1, 1)


def clock_without_stops(shifts: int = 2) -> LineClock:
    """A clock over two weeks with no line stops."""
    return build_clock(MONDAY, shifts, 0.0, 20 * 15 * HOUR, np.random.default_rng(0))


def test_line_time_starts_at_the_first_shift() -> None:
    clock = clock_without_stops()
    assert clock.to_calendar(np.array([0.0]))[0] == 6 * HOUR


def test_breaks_and_nights_are_skipped() -> None:
    clock = clock_without_stops()
    calendar = clock.to_calendar(np.array([4 * HOUR + 60.0, 15 * HOUR + 60.0]))
    assert calendar[0] == 10.5 * HOUR + 60.0
    assert calendar[1] == DAY + 6 * HOUR + 60.0


def test_weekends_are_skipped() -> None:
    clock = clock_without_stops()
    friday_evening_plus_one_minute = 5 * 15 * HOUR + 60.0
    calendar = clock.to_calendar(np.array([friday_evening_plus_one_minute]))[0]
    assert calendar == 7 * DAY + 6 * HOUR + 60.0


def test_line_stops_delay_everything_after_them() -> None:
    stopped = build_clock(MONDAY, 2, 3.0, 40 * 15 * HOUR, np.random.default_rng(1))
    assert len(stopped.stop_at) > 0
    plain = clock_without_stops()
    later = np.array([float(stopped.stop_at[-1]) + 1.0])
    assert stopped.to_calendar(later)[0] > plain.to_calendar(later)[0]
    earlier = np.array([float(stopped.stop_at[0]) - 1.0])
    assert stopped.to_calendar(earlier)[0] == plain.to_calendar(earlier)[0]


@settings(max_examples=50, deadline=None)
@given(
    shifts=st.sampled_from([1, 2, 3]),
    seed=st.integers(0, 2**16),
    times=st.lists(st.floats(0.0, 200 * HOUR), min_size=2, max_size=40),
)
def test_calendar_time_is_monotone_and_inside_running_windows(
    shifts: int, seed: int, times: list[float]
) -> None:
    clock = build_clock(MONDAY, shifts, 2.0, 200 * HOUR, np.random.default_rng(seed))
    line = np.sort(np.array(times))
    calendar = clock.to_calendar(line)
    assert (np.diff(calendar) >= 0).all()
    assert (np.diff(calendar) >= np.diff(line) - 1e-6).all()
    weekday = (MONDAY.weekday() + calendar // DAY) % 7
    assert (weekday < 5).all()
    second_of_day = calendar % DAY
    inside = np.zeros(len(calendar), dtype=bool)
    for begin, end in RUNNING_WINDOWS[shifts]:
        inside |= (second_of_day >= begin) & (second_of_day <= end)
    assert inside.all() or np.allclose(second_of_day[~inside], 0.0)
