"""The vehicle table the baselines read: mart columns, configuration, margins to spec.

One row per vehicle, built from ``mart_vehicle_features`` and the vehicle's
``mart_vehicle_events`` by the same function in training and in serving.
Everything learnt from data (which mart columns, the configuration
vocabularies, the spec windows) is fitted on training vehicles once and kept
in a ``TabularSpec``, so a vehicle's row never depends on the other vehicles
it is built with.

Mart columns that are not used, and why:

- ``knr``, ``as_of``: identity and time, not properties of the vehicle;
- ``labelled``: true for every training vehicle and false for every vehicle
  scored before its road test: a perfect train/serve skew;
- ``span_s``: for a labelled vehicle it runs up to the road-test start, so it
  contains the ZP7 dwell, which is unknown when an unlabelled vehicle is scored;
- ``min_margin`` and ``min_margin_<group>``: computed from spec windows the ETL
  derives from all vehicles of its run (``CROSS_VEHICLE_COLUMNS``); replaced
  here by margins to windows fitted on training vehicles only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Final

import numpy as np
import polars as pl

from roadtest.contracts.partner import FALHA_DEFECT_HEAD, FALHA_SEPARATOR, RESULT_STATUS_OK
from roadtest.contracts.warehouse import FEATURE_ID_GROUPS, MART_VEHICLE_FEATURES
from roadtest.features.plans import collect_plan
from roadtest.features.windows import (
    SpecWindows,
    fit_spec_windows,
    last_positions,
    pool_positions,
    pooled_feature_names,
    position_feature_names,
    with_margins,
)
from roadtest.models.inputs import TabularInputs

CONFIGURATION_COLUMNS: Final = ("modelo", "cor", "motor")
"""Categorical mart columns turned into one-hot features."""

CROSS_VEHICLE_COLUMNS: Final = (
    "min_margin",
    *(f"min_margin_{name}" for _, name in FEATURE_ID_GROUPS),
)
"""Mart columns whose value depends on which other vehicles the ETL run loaded."""

EXCLUDED_COLUMNS: Final = frozenset(
    {"knr", "as_of", "labelled", "span_s", *CONFIGURATION_COLUMNS, *CROSS_VEHICLE_COLUMNS}
)
"""Mart columns that never become a numeric feature (see the module docstring)."""

UNKNOWN_CATEGORY: Final = "<unknown>"
"""One-hot bucket of a configuration value not seen in training."""

MISSING_CATEGORY: Final = "<missing>"
"""One-hot bucket of a vehicle without the value (it has no defect row to carry it)."""

_NUMERIC_KINDS: Final = (pl.Int64, pl.Int32, pl.Float64, pl.Boolean)


@dataclass(frozen=True)
class TabularConfig:
    """Settings of the tabular features."""

    min_ok_results: int = 10
    """Fewest OK training values a test needs to get a spec window."""
    near_limit: float = 0.05
    """A result "near its limit" has a margin below this (share of the window width)."""
    test_positions: bool = True
    """Add each windowed test's last value, as a position in its window, as a feature.

    Specs saved before this setting existed read as False, so their models keep
    the columns they were trained on.
    """
    pooled_positions: bool = True
    """Add, per family of alike tests of a program (``windows.family_labels``), the smallest
    distance of a last value to its window's edge and the count within ``near_edge`` of one.

    A torque near a limit is rare per bolt, so each per-test position holds a
    handful of such cars; pooled over the program's bolts it becomes one column
    a tree can split. Specs saved before this setting existed read as False.
    """
    near_edge: float = 0.10
    """A last value "near an edge" lies within this share of the window width of one."""
    line_entry_time: bool = True
    """Add the vehicle's line-entry time (``LINE_ENTRY_COLUMN``) as a feature.

    A mechanism that drifts (a risk that grows from some date on) is learnt as
    an interaction of its cause with time; a vehicle scored after the training
    period falls on the newest side of every time split, so it is scored as the
    newest training vehicles were. Specs saved before this setting existed read
    as False.
    """
    defect_types: bool = True
    """Add, per defect type seen in training (``defect_type``: ``AMASSADO`` in
    ``PARALAMA DIANTEIRO 01. AMASSADO``), how many of the vehicle's earlier defects are of it.

    The marts count defects per failure group and zone, not per kind, yet a loose
    or missing part left in the car is another risk than a scratch. Specs saved
    before this setting existed read as False.
    """
    min_defect_type_count: int = 20
    """Fewest training defects a type needs to get its own column."""
    max_defect_types: int = 30
    """At most this many types, the most frequent in training: FALHA is free text."""

    def __post_init__(self) -> None:
        if self.min_ok_results < 2:
            raise ValueError(
                f"min_ok_results must be at least 2 (a window needs two values), "
                f"got {self.min_ok_results}"
            )
        if not 0.0 < self.near_limit <= 0.5:
            raise ValueError(f"near_limit must lie in (0, 0.5], got {self.near_limit}")
        if not 0.0 < self.near_edge <= 0.5:
            raise ValueError(f"near_edge must lie in (0, 0.5], got {self.near_edge}")
        if self.min_defect_type_count < 1 or self.max_defect_types < 1:
            raise ValueError(
                "min_defect_type_count and max_defect_types must be at least 1, got "
                f"{self.min_defect_type_count} and {self.max_defect_types}"
            )


LINE_ENTRY_COLUMN: Final = "line_entry_day"
"""Days since 1970-01-01 of the timestamp of the vehicle's first event (its line entry)."""

DEFECT_TYPE_PREFIX: Final = "n_defects_type="
"""Name of a defect-type column: the prefix, then the type (``n_defects_type=SOLTO``)."""

DEFECT_EVENT: Final = "defect"
"""mart_vehicle_events.event_type of a defect logged before the road test."""


_SETTINGS_BEFORE_THEY_EXISTED: Final = {
    "test_positions": False,
    "pooled_positions": False,
    "line_entry_time": False,
    "defect_types": False,
}
"""How a spec saved without these settings was built, so its model gets the same columns."""


def margin_feature_names() -> tuple[str, ...]:
    """Names of the margin features, overall then per result group."""
    groups = [name for _, name in FEATURE_ID_GROUPS]
    return (
        "margin_min",
        *(f"margin_min_{g}" for g in groups),
        "n_near_limit",
        *(f"n_near_limit_{g}" for g in groups),
    )


@dataclass(frozen=True)
class TabularSpec:
    """Everything needed to build the vehicle table, fitted on training vehicles."""

    config: TabularConfig
    numeric_columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    windows: SpecWindows
    defect_types: tuple[str, ...] = ()
    """The defect types that get a column (``TabularConfig.defect_types``), sorted."""

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        """Column names of the built table, in order."""
        one_hot = tuple(
            f"{column}={value}"
            for column in CONFIGURATION_COLUMNS
            for value in (*self.categories[column], UNKNOWN_CATEGORY, MISSING_CATEGORY)
        )
        return (*self.numeric_columns, *margin_feature_names(), *one_hot, *self.tail_feature_names)

    @cached_property
    def tail_feature_names(self) -> tuple[str, ...]:
        """The columns built from a vehicle's events rather than its marts' summaries (last
        values, defect types, line entry), last in the table; the recurrent models' static
        inputs leave them out (they read the events themselves)."""
        config = self.config
        return (
            *(position_feature_names(self.windows) if config.test_positions else ()),
            *(pooled_feature_names(self.windows) if config.pooled_positions else ()),
            *(f"{DEFECT_TYPE_PREFIX}{t}" for t in self.defect_types),
            *((LINE_ENTRY_COLUMN,) if config.line_entry_time else ()),
        )

    @cached_property
    def column_exprs(self) -> tuple[pl.Expr, ...]:
        """The expressions of the table's columns before the positions, built once per spec:
        for one vehicle, building a hundred expressions costs as much as running them."""
        numbers = (*self.numeric_columns, *margin_feature_names())
        return (
            *(pl.col(c).cast(pl.Float64) for c in numbers),
            *(e.cast(pl.Float64) for e in _one_hot(self)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "config": {
                "min_ok_results": self.config.min_ok_results,
                "near_limit": self.config.near_limit,
                "test_positions": self.config.test_positions,
                "pooled_positions": self.config.pooled_positions,
                "near_edge": self.config.near_edge,
                "line_entry_time": self.config.line_entry_time,
                "defect_types": self.config.defect_types,
                "min_defect_type_count": self.config.min_defect_type_count,
                "max_defect_types": self.config.max_defect_types,
            },
            "numeric_columns": list(self.numeric_columns),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "windows": self.windows.to_dict(),
            "defect_types": list(self.defect_types),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularSpec:
        """Inverse of ``to_dict``."""
        return cls(
            config=TabularConfig(**{**_SETTINGS_BEFORE_THEY_EXISTED, **data["config"]}),
            numeric_columns=tuple(data["numeric_columns"]),
            categories={k: tuple(v) for k, v in data["categories"].items()},
            windows=SpecWindows.from_dict(data["windows"]),
            defect_types=tuple(str(t) for t in data.get("defect_types", ())),
        )


def _numeric_mart_columns() -> tuple[str, ...]:
    return tuple(
        column.name
        for column in MART_VEHICLE_FEATURES.columns
        if column.name not in EXCLUDED_COLUMNS and isinstance(column.dtype, _NUMERIC_KINDS)
    )


def require_columns(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """Refuse a frame that lacks columns, naming them (a wrong table is a common mistake)."""
    present = set(frame.columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")


def require_unique_knrs(frame: pl.DataFrame, what: str) -> None:
    """Refuse a vehicle table with a KNR twice: its rows could not be told apart."""
    if frame.height < 2:
        return
    repeated = frame.get_column("knr").filter(frame.get_column("knr").is_duplicated()).unique()
    if repeated.len():
        shown = ", ".join(sorted(repeated.to_list())[:5])
        raise ValueError(f"{what} has {repeated.len()} KNR(s) more than once, e.g. {shown}")


def fit_tabular_spec(
    train_features: pl.DataFrame,
    train_events: pl.DataFrame,
    config: TabularConfig | None = None,
) -> TabularSpec:
    """Fit the table's vocabularies and spec windows on training vehicles only."""
    config = config or TabularConfig()
    numeric = _numeric_mart_columns()
    require_columns(
        train_features, ("knr", *numeric, *CONFIGURATION_COLUMNS), "the training feature table"
    )
    categories = {
        column: tuple(sorted(train_features.get_column(column).drop_nulls().unique().to_list()))
        for column in CONFIGURATION_COLUMNS
    }
    return TabularSpec(
        config=config,
        numeric_columns=numeric,
        categories=categories,
        windows=fit_spec_windows(train_events, config.min_ok_results),
        defect_types=(
            fit_defect_types(train_events, config.min_defect_type_count, config.max_defect_types)
            if config.defect_types
            else ()
        ),
    )


def defect_type() -> pl.Expr:
    """A defect event's kind: its FALHA text after the last '. ', trimmed and upper-cased
    (``PARALAMA DIANTEIRO 01. amassado`` → ``AMASSADO``), as the ETL splits part and
    defect; null for a text without that separator or with nothing after it."""
    detail = pl.col("detail")
    kind = detail.str.replace(FALHA_DEFECT_HEAD, "").str.strip_chars().str.to_uppercase()
    return pl.when(detail.str.contains(FALHA_SEPARATOR) & (kind.str.len_chars() > 0)).then(kind)


def fit_defect_types(train_events: pl.DataFrame, min_count: int, max_types: int) -> tuple[str, ...]:
    """The defect types of at least ``min_count`` training defects, at most ``max_types`` of
    them (the most frequent, ties by name), sorted: rarer kinds cannot be learnt."""
    counts = collect_plan(
        train_events.lazy()
        .filter(pl.col("event_type") == DEFECT_EVENT)
        .select(defect_type().alias("kind"))
        .drop_nulls()
        .group_by("kind")
        .len()
        .filter(pl.col("len") >= min_count)
        .sort(["len", "kind"], descending=[True, False])
        .head(max_types),
        input_rows=train_events.height,
    )
    return tuple(sorted(counts.get_column("kind").to_list()))


def defect_type_counts(
    events: pl.DataFrame, knrs: pl.Series, defect_types: tuple[str, ...]
) -> np.ndarray:
    """Per vehicle of ``knrs`` and type of ``defect_types``: how many of its defect events
    are of that type (0 without any)."""
    counts = np.zeros((knrs.len(), len(defect_types)), dtype=np.float32)
    found = collect_plan(
        events.lazy()
        .filter(pl.col("event_type") == DEFECT_EVENT)
        .select("knr", defect_type().alias("kind"))
        .join(knrs.to_frame("knr").with_row_index("vehicle").lazy(), on="knr", how="inner")
        .join(
            pl.LazyFrame({"kind": list(defect_types)}, schema={"kind": pl.String}).with_row_index(
                "type"
            ),
            on="kind",
            how="inner",
        )
        .group_by("vehicle", "type")
        .len(),
        input_rows=events.height,
    )
    counts[found.get_column("vehicle").to_numpy(), found.get_column("type").to_numpy()] = (
        found.get_column("len").to_numpy()
    )
    return counts


def _margin_features(
    events: pl.DataFrame, vehicles: pl.DataFrame, spec: TabularSpec
) -> pl.LazyFrame:
    """Per vehicle: smallest margin of an OK result and count of OK results near a limit.

    Only OK results count, as in the mart's own margin: the question is how
    close a passing vehicle came to failing a test; a NOK is already counted
    as such.
    """
    ok = (
        with_margins(events.lazy().join(vehicles.lazy(), on="knr", how="semi"), spec.windows)
        .filter(pl.col("status") == RESULT_STATUS_OK)
        .filter(pl.col("margin").is_not_null())
    )
    return ok.group_by("knr").agg(_margin_aggregations(spec.config.near_limit))


@lru_cache(maxsize=8)
def _margin_aggregations(near_limit: float) -> tuple[pl.Expr, ...]:
    """The aggregations of ``_margin_features``, built once (one vehicle's table is cheaper
    to compute than its expressions are to build)."""
    near = pl.col("margin") < near_limit
    aggs: list[pl.Expr] = [pl.col("margin").min().alias("margin_min")]
    aggs += [
        pl.col("margin").filter(pl.col("id_group") == gid).min().alias(f"margin_min_{name}")
        for gid, name in FEATURE_ID_GROUPS
    ]
    aggs.append(near.sum().cast(pl.Float64).alias("n_near_limit"))
    aggs += [
        (near & (pl.col("id_group") == gid)).sum().cast(pl.Float64).alias(f"n_near_limit_{name}")
        for gid, name in FEATURE_ID_GROUPS
    ]
    return tuple(aggs)


def _one_hot(spec: TabularSpec) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for column in CONFIGURATION_COLUMNS:
        known = spec.categories[column]
        value = pl.col(column)
        exprs += [(value == v).fill_null(False).alias(f"{column}={v}") for v in known]
        exprs.append(
            (value.is_not_null() & ~value.is_in(list(known))).alias(f"{column}={UNKNOWN_CATEGORY}")
        )
        exprs.append(value.is_null().alias(f"{column}={MISSING_CATEGORY}"))
    return exprs


def build_tabular(
    features: pl.DataFrame,
    events: pl.DataFrame,
    spec: TabularSpec,
    with_positions: bool = True,
) -> TabularInputs:
    """The vehicle table of ``features`` (mart_vehicle_features rows), in their row order.

    ``events`` are the same vehicles' mart_vehicle_events rows (events of
    other vehicles are ignored). A missing value is NaN; counts of near-limit
    results are 0 for a vehicle without results. ``with_positions=False``
    leaves the tail columns out (``TabularSpec.tail_feature_names``: the
    recurrent models' static inputs do not use them, and they cost queries of
    their own).
    """
    require_columns(
        features, ("knr", *spec.numeric_columns, *CONFIGURATION_COLUMNS), "the feature table"
    )
    require_columns(
        events,
        ("knr", "seq", "event_type", "code", "detail", "id_group", "status", "value"),
        "the event table",
    )
    require_unique_knrs(features, "the feature table")
    counts = [f"n_near_limit{suffix}" for suffix in ("", *(f"_{n}" for _, n in FEATURE_ID_GROUPS))]
    names = spec.feature_names
    table = collect_plan(
        features.lazy()
        .select("knr", *spec.numeric_columns, *CONFIGURATION_COLUMNS)
        .join(
            _margin_features(events, features.select("knr"), spec),
            on="knr",
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col(counts).fill_null(0.0))
        .select(*spec.column_exprs),
        input_rows=events.height,
    )
    matrix = table.to_numpy().astype(np.float32, copy=False)
    if not (spec.tail_feature_names and with_positions):
        return TabularInputs(features=matrix, feature_names=names[: matrix.shape[1]])
    return TabularInputs(
        features=np.hstack([matrix, _tail_columns(features, events, spec)]), feature_names=names
    )


def _tail_columns(features: pl.DataFrame, events: pl.DataFrame, spec: TabularSpec) -> np.ndarray:
    """The columns of ``TabularSpec.tail_feature_names``, in the vehicles' row order."""
    config, knrs = spec.config, features.get_column("knr")
    blocks: list[np.ndarray] = []
    if config.test_positions or config.pooled_positions:
        positions = last_positions(events, knrs, spec.windows)
        if config.test_positions:
            blocks.append(positions)
        if config.pooled_positions:
            blocks.append(pool_positions(positions, spec.windows, config.near_edge))
    if spec.defect_types:
        blocks.append(defect_type_counts(events, knrs, spec.defect_types))
    if config.line_entry_time:
        blocks.append(line_entry_days(events, knrs)[:, None])
    return np.hstack(blocks)


def line_entry_days(events: pl.DataFrame, knrs: pl.Series) -> np.ndarray:
    """Per vehicle of ``knrs``: days since 1970-01-01 of its first event, NaN without events.

    A vehicle's first event is its line entry, known as soon as it is built,
    so the value is the same in training and when it is scored before its road
    test.
    """
    require_columns(events, ("knr", "data"), "the event table")
    first = collect_plan(
        knrs.to_frame("knr")
        .lazy()
        .join(
            events.lazy().group_by("knr").agg(pl.col("data").min()),
            on="knr",
            how="left",
            maintain_order="left",
        )
        .select((pl.col("data").dt.epoch("ms").cast(pl.Float64) / 86_400_000.0).alias("day")),
        input_rows=events.height,
    )
    return first.get_column("day").fill_null(np.nan).to_numpy().astype(np.float32)
