"""The time split: oldest vehicles train, newest test; ties stay together; bad splits refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from roadtest.training.split import time_split

T0 = datetime(2024, 1, 8, 6, 0)


def labels(starts: list[datetime], failed: list[bool] | None = None) -> pl.DataFrame:
    n = len(starts)
    return pl.DataFrame(
        {
            "knr": [f"2024-{i:07d}" for i in range(n)],
            "road_test_start_at": starts,
            "road_test_failed": failed if failed is not None else [i % 5 == 0 for i in range(n)],
        },
        schema={
            "knr": pl.String,
            "road_test_start_at": pl.Datetime("us"),
            "road_test_failed": pl.Boolean,
        },
    )


def hourly(n: int) -> list[datetime]:
    return [T0 + timedelta(hours=i) for i in range(n)]


def test_parts_are_ordered_in_time_and_sized_by_the_fractions() -> None:
    frame = labels(hourly(100)).sample(fraction=1.0, shuffle=True, seed=3)
    split = time_split(frame, valid_fraction=0.2, test_fraction=0.1)
    assert (len(split.train_knrs), len(split.valid_knrs), len(split.test_knrs)) == (70, 20, 10)
    assert split.train_knrs[0] == "2024-0000000" and split.test_knrs[-1] == "2024-0000099"
    every = [*split.train_knrs, *split.valid_knrs, *split.test_knrs]
    assert sorted(every) == sorted(frame.get_column("knr").to_list())
    assert split.windows["train"] == (T0, T0 + timedelta(hours=69))
    assert split.windows["train"][1] < split.windows["valid"][0]
    assert split.windows["valid"][1] < split.windows["test"][0]


def test_vehicles_sharing_a_boundary_start_all_go_to_the_older_part() -> None:
    starts = hourly(100)
    for i in range(65, 75):  # the 70/30 boundary falls inside this run of equal starts
        starts[i] = starts[65]
    frame = labels(starts)
    split = time_split(frame, valid_fraction=0.15, test_fraction=0.15)
    assert len(split.train_knrs) == 75
    assert split.windows["train"][1] == starts[65] < split.windows["valid"][0]
    shuffled = time_split(frame.reverse(), valid_fraction=0.15, test_fraction=0.15)
    assert shuffled == split


def test_a_part_without_failures_is_refused_naming_it() -> None:
    n = 100
    failed = [i < 70 and i % 5 == 0 for i in range(n)]
    with pytest.raises(ValueError, match=r"the valid part .* no vehicle that failed"):
        time_split(labels(hourly(n), failed))


def test_a_part_with_too_few_vehicles_is_refused() -> None:
    with pytest.raises(ValueError, match="the valid part would hold 3 vehicle"):
        time_split(labels(hourly(20)), valid_fraction=0.15, test_fraction=0.15, min_vehicles=5)
    every_other = [i % 2 == 0 for i in range(20)]
    split = time_split(
        labels(hourly(20), every_other), valid_fraction=0.15, test_fraction=0.15, min_vehicles=3
    )
    assert (len(split.valid_knrs), len(split.test_knrs)) == (3, 3)


def test_ties_that_swallow_a_part_are_refused() -> None:
    starts = hourly(60) + [T0 + timedelta(days=10)] * 40  # the newest 40 share one start
    with pytest.raises(ValueError, match="the valid part would hold 0 vehicle"):
        time_split(labels(starts))


@pytest.mark.parametrize(
    ("valid", "test", "message"),
    [(0.0, 0.15, "valid_fraction"), (0.15, 1.0, "test_fraction"), (0.5, 0.5, "leave vehicles")],
)
def test_impossible_fractions_are_refused(valid: float, test: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        time_split(labels(hourly(100)), valid_fraction=valid, test_fraction=test)


def test_unlabelled_or_repeated_vehicles_are_refused() -> None:
    starts: list[datetime | None] = [*hourly(99), None]
    frame = labels(hourly(100)).with_columns(pl.Series("road_test_start_at", starts))
    with pytest.raises(ValueError, match="1 vehicle\\(s\\) have no road-test start"):
        time_split(frame)
    doubled = pl.concat([labels(hourly(100)), labels(hourly(1))])
    with pytest.raises(ValueError, match="more than once"):
        time_split(doubled)
    with pytest.raises(ValueError, match="road_test_failed"):
        time_split(labels(hourly(100)).drop("road_test_failed"))
