"""Spec windows fitted on training vehicles, and each result's margin to its window.

The exports carry no spec limits, but every OK result lies within spec, so the
range of OK values of a test (NAME, VALUE_ID) is the tightest window the data
proves to lie inside the spec. The warehouse derives such a window too
(``dim_test``), but from every vehicle it loads, test vehicles included, and
from whichever vehicles were recomputed together; a feature built on it would
let newer vehicles shape the features of older ones. The windows here are
fitted on the training vehicles only, stored in the feature spec and applied
unchanged to every later vehicle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import numpy as np
import polars as pl

from roadtest.contracts.partner import RESULT_STATUS_OK
from roadtest.features.plans import collect_plan

RESULT_EVENT: Final = "result"
"""mart_vehicle_events.event_type of a measured value."""

MARGIN_CEILING: Final = 0.5
"""Margin of a value in the middle of its window: half the width to either edge."""

MARGIN_FLOOR: Final = -1.0
"""Margins below this are clipped: a value a whole window width outside is already extreme."""

_KEY: Final = ("code", "detail")


@dataclass(frozen=True)
class SpecWindows:
    """OK-value window [ok_min, ok_max] per test, stored column-wise (compact JSON).

    ``names``/``value_ids`` are the events' ``code``/``detail`` of result events
    (RESULTADOS NAME and VALUE_ID); ``n_ok`` is the number of OK training
    values behind each window.
    """

    names: tuple[str, ...]
    value_ids: tuple[str, ...]
    ok_min: tuple[float, ...]
    ok_max: tuple[float, ...]
    n_ok: tuple[int, ...]

    def __post_init__(self) -> None:
        sizes = {len(self.value_ids), len(self.ok_min), len(self.ok_max), len(self.n_ok)}
        if sizes != {len(self.names)}:
            raise ValueError("spec windows are corrupt: their columns have different lengths")

    @cached_property
    def frame(self) -> pl.DataFrame:
        """The windows as a frame keyed like result events (code, detail); built once per
        spec, since every vehicle scored joins it."""
        return pl.DataFrame(
            {
                "code": list(self.names),
                "detail": list(self.value_ids),
                "ok_min": list(self.ok_min),
                "ok_max": list(self.ok_max),
            },
            schema={
                "code": pl.String,
                "detail": pl.String,
                "ok_min": pl.Float64,
                "ok_max": pl.Float64,
            },
        )

    @cached_property
    def pooled_families(self) -> dict[str, tuple[int, ...]]:
        """Each family of two tests or more (``family_labels``), in order of first appearance,
        with its tests' column indices: worked out once per spec, not per vehicle scored.
        A family of one test would only repeat that test's position."""
        members: dict[str, list[int]] = {}
        for index, family in enumerate(family_labels(self)):
            members.setdefault(family, []).append(index)
        return {family: tuple(tests) for family, tests in members.items() if len(tests) > 1}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": list(self.names),
            "value_id": list(self.value_ids),
            "ok_min": list(self.ok_min),
            "ok_max": list(self.ok_max),
            "n_ok": list(self.n_ok),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpecWindows:
        """Inverse of ``to_dict``."""
        return cls(
            names=tuple(str(v) for v in data["name"]),
            value_ids=tuple(str(v) for v in data["value_id"]),
            ok_min=tuple(float(v) for v in data["ok_min"]),
            ok_max=tuple(float(v) for v in data["ok_max"]),
            n_ok=tuple(int(v) for v in data["n_ok"]),
        )


def fit_spec_windows(train_events: pl.DataFrame, min_ok_results: int) -> SpecWindows:
    """Windows of every test with at least ``min_ok_results`` OK training values.

    A window behind only a handful of values is narrower than the real spec,
    so later vehicles would look out of spec; such tests get no window and
    their results no margin.
    """
    fitted = collect_plan(
        train_events.lazy()
        .filter(
            (pl.col("event_type") == RESULT_EVENT)
            & (pl.col("status") == RESULT_STATUS_OK)
            & pl.col("value").is_finite()
        )
        .group_by(*_KEY)
        .agg(
            pl.col("value").min().alias("ok_min"),
            pl.col("value").max().alias("ok_max"),
            pl.len().cast(pl.Int64).alias("n_ok"),
        )
        .filter(pl.col("n_ok") >= min_ok_results)
        .sort(*_KEY),
        input_rows=train_events.height,
    )
    return SpecWindows(
        names=tuple(fitted.get_column("code").to_list()),
        value_ids=tuple(fitted.get_column("detail").to_list()),
        ok_min=tuple(fitted.get_column("ok_min").to_list()),
        ok_max=tuple(fitted.get_column("ok_max").to_list()),
        n_ok=tuple(fitted.get_column("n_ok").to_list()),
    )


def margin() -> pl.Expr:
    """A result's relative distance to the nearer edge of its window (``ok_min``/``ok_max``).

    min(value - ok_min, ok_max - value) / (ok_max - ok_min): 0.5 in the middle,
    0 on an edge, negative outside the training window (clipped at
    ``MARGIN_FLOOR``). Null for non-results, empty values and tests without a
    window of positive width.
    """
    width = pl.col("ok_max") - pl.col("ok_min")
    nearer = pl.min_horizontal(
        pl.col("value") - pl.col("ok_min"), pl.col("ok_max") - pl.col("value")
    )
    usable = (pl.col("event_type") == RESULT_EVENT) & pl.col("value").is_finite() & (width > 0)
    return pl.when(usable).then((nearer / width).clip(MARGIN_FLOOR, MARGIN_CEILING))


def with_margins(events: pl.LazyFrame, windows: SpecWindows) -> pl.LazyFrame:
    """``events`` plus their ``margin`` to the fitted windows (see ``margin``)."""
    return (
        events.join(windows.frame.lazy(), on=list(_KEY), how="left", maintain_order="left")
        .with_columns(margin=margin())
        .drop("ok_min", "ok_max")
    )


POSITION_FLOOR: Final = -1.0
POSITION_CEILING: Final = 2.0
"""Positions are clipped to a window width beyond either edge, like margins."""


def position_feature_names(windows: SpecWindows) -> tuple[str, ...]:
    """One feature per windowed test: ``position:<NAME>/<VALUE_ID>``, in the windows' order."""
    return tuple(f"position:{n}/{v}" for n, v in zip(windows.names, windows.value_ids, strict=True))


def last_positions(events: pl.DataFrame, knrs: pl.Series, windows: SpecWindows) -> np.ndarray:
    """Per vehicle of ``knrs`` and windowed test: where its last value lies in the window.

    (value - ok_min) / (ok_max - ok_min): 0 on the lower edge, 1 on the upper,
    NaN when the vehicle has no finite value of the test. Signed, unlike the
    margin, because a plant's mechanisms are one-sided (a battery voltage at
    the bottom of its window, not at the top, drains the battery), and per test,
    because an aggregate over all tests drowns the few that matter. The last
    value is the one the vehicle leaves the line with, after any rework.
    """
    tests = windows.frame.with_row_index("test")
    found = collect_plan(
        events.lazy()
        .filter((pl.col("event_type") == RESULT_EVENT) & pl.col("value").is_finite())
        .join(knrs.to_frame("knr").with_row_index("vehicle").lazy(), on="knr", how="inner")
        .join(tests.lazy(), on=list(_KEY), how="inner")
        .filter(pl.col("ok_max") > pl.col("ok_min"))
        .group_by("vehicle", "test")
        .agg(
            pl.col("value").sort_by("seq").last(),
            pl.col("ok_min").first(),
            pl.col("ok_max").first(),
        )
        .select(
            "vehicle",
            "test",
            ((pl.col("value") - pl.col("ok_min")) / (pl.col("ok_max") - pl.col("ok_min")))
            .clip(POSITION_FLOOR, POSITION_CEILING)
            .alias("position"),
        ),
        input_rows=events.height,
    )
    matrix = np.full((knrs.len(), tests.height), np.nan, dtype=np.float32)
    matrix[found.get_column("vehicle").to_numpy(), found.get_column("test").to_numpy()] = (
        found.get_column("position").to_numpy()
    )
    return matrix


FAMILY_CENTRE_SHARE: Final = 0.25
"""Tests of one program are alike when their window centres differ by less than this share of
the wider window..."""
FAMILY_WIDTH_RATIO: Final = 1.5
"""...and the wider window is less than this many times the narrower one."""


def _alike(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Two windows (centre, width) of the same kind of measurement, e.g. two bolts' torques."""
    wider, narrower = max(a[1], b[1]), min(a[1], b[1])
    return (
        narrower > 0
        and abs(a[0] - b[0]) < FAMILY_CENTRE_SHARE * wider
        and wider < FAMILY_WIDTH_RATIO * narrower
    )


def family_labels(windows: SpecWindows) -> tuple[str, ...]:
    """Per windowed test, its family ``<NAME>#<k>``: the tests of a program with alike windows.

    The exports carry no spec limits and the vehicle table no unit, but the
    bolts of one program tightened to one spec share a window, while their
    angles (or another quantity) sit elsewhere. A family pools such tests so a
    value near an edge, rare per bolt, is frequent enough per family for a tree
    to learn it. Derived from the stored windows alone, in their order, so a
    saved spec always gives the same families.
    """
    founders: dict[str, list[tuple[float, float]]] = {}
    labels: list[str] = []
    for name, low, high in zip(windows.names, windows.ok_min, windows.ok_max, strict=True):
        window = ((low + high) / 2.0, high - low)
        known = founders.setdefault(name, [])
        index = next((k for k, founder in enumerate(known) if _alike(founder, window)), None)
        if index is None:
            index = len(known)
            known.append(window)
        labels.append(f"{name}#{index}")
    return tuple(labels)


def pooled_feature_names(windows: SpecWindows) -> tuple[str, ...]:
    """Two features per family of two tests or more (see ``pool_positions``)."""
    kinds = ("edge_min", "n_near_edge")
    return tuple(f"{kind}:{family}" for family in windows.pooled_families for kind in kinds)


def pool_positions(positions: np.ndarray, windows: SpecWindows, near_edge: float) -> np.ndarray:
    """Per vehicle and family of two tests or more: the smallest distance of a last value to
    its window's nearer edge, and how many of the family's last values lie within
    ``near_edge`` of one.

    ``positions`` is ``last_positions``' matrix. The distance is min(p, 1 - p):
    0 on an edge, negative outside the window, NaN when the vehicle has none of
    the family's tests (their count is then 0).
    """
    edge = np.minimum(positions, 1.0 - positions)
    columns: list[np.ndarray] = []
    for tests in windows.pooled_families.values():
        members = edge[:, list(tests)]
        present = ~np.isnan(members)
        smallest = np.where(present, members, np.inf).min(axis=1)
        columns.append(np.where(present.any(axis=1), smallest, np.nan))
        columns.append(((members < near_edge) & present).sum(axis=1).astype(np.float64))
    if not columns:
        return np.empty((positions.shape[0], 0), dtype=np.float32)
    return np.column_stack(columns).astype(np.float32)
