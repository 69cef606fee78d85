"""Event sequences for the recurrent models, built the same way in training and serving.

A vehicle's ``mart_vehicle_events`` become a sequence of *steps*. With the
default granularity, ``program_visit``, the results one test program (NAME)
posts for the vehicle at one timestamp form one step, and every zone passage
and every defect is a step of its own; with ``event`` every result is a step.

Why program visits: results arrive in batches that share a timestamp and
whose order inside the batch is not reliable (see docs/data.md), so the
order of a program's bolts carries no information, while the sequence
length does cost. On a simulated 2,000-vehicle plant a vehicle has about 215
events (up to ~330) but about 67 program-visit steps (up to ~92), so no
vehicle is cut at the default ``max_len``; the default GRU trained about 3x
faster on program visits than on events capped at 256, with no loss of test
PR-AUC (``bench/bench_features.py --model`` measures both side by side). The
step keeps what the failure mechanisms leave in the results: the shares of
NOK and rework results, the extremes of the standardised values, the
smallest margin to the spec window, the share of results near a limit, and
the VALUE_ID of the weakest result (smallest margin) as its detail token.

Sequences longer than ``max_len`` steps keep their LAST ``max_len`` steps:
the latest events are the nearest to the road test, and the static inputs
still summarise the whole history.

Categorical channels (codes: 0 padding, 1 unknown, 2 "no event", 3… the
fitted vocabulary; tokens seen fewer than ``min_count`` times in training are
unknown): event type, code (rail code / NAME / failure group@zone), detail
(NAME/VALUE_ID of a result, FALHA text of a defect), group (result ID /
S_GROUP_ID). Numeric channels are in ``NUMERIC_CHANNELS``; every statistic is
fitted on training vehicles and stored in the ``SequenceSpec``.

Static inputs are the vehicle's tabular features (``features.tabular``),
standardised with training means and deviations, clipped, missing values set
to 0, plus a missing indicator for each feature that was missing for some
training vehicle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Final, Literal, get_args

import numpy as np
import polars as pl

from roadtest.contracts.partner import RESULT_STATUS_OK
from roadtest.features.plans import collect_plan
from roadtest.features.tabular import (
    TabularSpec,
    build_tabular,
    fit_tabular_spec,
    require_columns,
    require_unique_knrs,
)
from roadtest.features.windows import RESULT_EVENT, SpecWindows, margin
from roadtest.models.inputs import PADDING_CODE, UNKNOWN_CODE, SequenceInputs

Granularity = Literal["program_visit", "event"]
GRANULARITIES: Final[tuple[Granularity, ...]] = get_args(Granularity)

EMPTY_CODE: Final = 2
"""Categorical code, in every channel, of the one event given to a vehicle without events."""

FIRST_TOKEN_CODE: Final = 3
"""Code of the first token of a fitted vocabulary."""

CATEGORICAL_CHANNELS: Final = ("event_type", "code", "detail", "group")
NUMERIC_CHANNELS: Final = (
    "log_n_results",  # log1p(results in the step); 0 for a zone passage or defect
    "nok_share",  # share of the step's results that are NOK
    "rework_share",  # share of the step's results that are retests
    "value_z_min",  # smallest standardised value (per NAME/VALUE_ID training stats)
    "value_z_max",  # largest standardised value
    "value_share",  # share of the step's results with a standardised value
    "margin_min",  # smallest margin to the training spec window (see features.windows)
    "margin_share",  # share of the step's results with a margin
    "near_limit_share",  # share of the step's results with margin below near_limit
    "log_dt_prev",  # log1p(seconds since the previous step), standardised
    "log_t_offset",  # log1p(seconds since the vehicle's first event), standardised
)
_TIME_CHANNELS: Final = ("log_dt_prev", "log_t_offset")
_STEP_STATISTICS: Final = NUMERIC_CHANNELS[1:9]
"""Channels taken as computed per step (shares and extremes, already on a small scale)."""
EVENT_COLUMNS: Final = (
    "knr",
    "seq",
    "data",
    "event_type",
    "code",
    "detail",
    "id_group",
    "status",
    "value",
    "is_nok",
    "is_rework",
    "t_offset_seconds",
)


@dataclass(frozen=True)
class SequenceConfig:
    """Settings of the sequences; the defaults are the measured choice (module docstring)."""

    granularity: Granularity = "program_visit"
    max_len: int = 128
    """Most steps per vehicle; longer vehicles keep their last ``max_len`` steps."""
    min_count: int = 5
    """Fewest training occurrences a token needs to get its own code."""
    clip: float = 10.0
    """Standardised numbers and static inputs are clipped to [-clip, clip]."""
    static_positions: bool = False
    """Give the network the vehicle table's tail columns (per-test and pooled positions,
    line-entry time: ``TabularSpec.tail_feature_names``) as static inputs too.

    Off by default: the sequence already carries every result's value, and a few
    hundred more static inputs (each with a missing indicator) let the static
    branch memorise the training vehicles (on the 20,000-vehicle plant the GRU's
    test PR-AUC fell from 0.186 to 0.162 with them).
    """

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity must be one of {', '.join(GRANULARITIES)}, got {self.granularity!r}"
            )
        if self.max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {self.max_len}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {self.min_count}")
        if self.clip <= 0:
            raise ValueError(f"clip must be positive, got {self.clip}")


@dataclass(frozen=True)
class ValueScales:
    """Mean and standard deviation of OK training values per test (NAME, VALUE_ID).

    Standardising per test makes a torque in Nm and a voltage in V comparable.
    """

    names: tuple[str, ...]
    value_ids: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @cached_property
    def frame(self) -> pl.DataFrame:
        """The scales keyed like result events (code, detail); built once per spec."""
        return pl.DataFrame(
            {
                "code": list(self.names),
                "detail": list(self.value_ids),
                "_mean": list(self.mean),
                "_std": list(self.std),
            },
            schema={
                "code": pl.String,
                "detail": pl.String,
                "_mean": pl.Float64,
                "_std": pl.Float64,
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": list(self.names),
            "value_id": list(self.value_ids),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueScales:
        """Inverse of ``to_dict``."""
        return cls(
            names=tuple(str(v) for v in data["name"]),
            value_ids=tuple(str(v) for v in data["value_id"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
        )


@dataclass(frozen=True)
class SequenceSpec:
    """Everything needed to build sequences, fitted on training vehicles."""

    config: SequenceConfig
    tabular: TabularSpec
    value_scales: ValueScales
    vocabularies: dict[str, tuple[str, ...]]
    """Tokens of each categorical channel; token i has code FIRST_TOKEN_CODE + i."""
    time_scales: dict[str, tuple[float, float]]
    """(mean, std) of log_dt_prev and log_t_offset before standardising."""
    static_columns: tuple[str, ...]
    """Tabular features given to the network as static inputs, in order."""
    static_mean: tuple[float, ...]
    static_std: tuple[float, ...]
    static_missing: tuple[str, ...]
    """Static inputs that also get a missing indicator."""

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Number of codes of each categorical channel (padding, unknown and empty included)."""
        return tuple(FIRST_TOKEN_CODE + len(self.vocabularies[c]) for c in CATEGORICAL_CHANNELS)

    @property
    def static_names(self) -> tuple[str, ...]:
        """Names of the static inputs, in order."""
        return (*self.static_columns, *(f"{n}:missing" for n in self.static_missing))

    @cached_property
    def tests(self) -> pl.DataFrame:
        """Window and value scale per test, joined once per spec rather than per vehicle."""
        return _test_table(self.tabular.windows, self.value_scales)

    @cached_property
    def encoders(self) -> tuple[pl.Expr, ...]:
        """The expressions turning steps into codes and numbers, built once per spec: the
        vocabularies hold hundreds of tokens, too many to convert for every vehicle."""
        return (*_encoded(self), *_numeric(self))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the tabular spec (the FeatureSpec stores it once)."""
        return {
            "config": {
                "granularity": self.config.granularity,
                "max_len": self.config.max_len,
                "min_count": self.config.min_count,
                "clip": self.config.clip,
                "static_positions": self.config.static_positions,
            },
            "value_scales": self.value_scales.to_dict(),
            "vocabularies": {c: list(self.vocabularies[c]) for c in CATEGORICAL_CHANNELS},
            "time_scales": {c: list(self.time_scales[c]) for c in _TIME_CHANNELS},
            "static_columns": list(self.static_columns),
            "static_mean": list(self.static_mean),
            "static_std": list(self.static_std),
            "static_missing": list(self.static_missing),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], tabular: TabularSpec) -> SequenceSpec:
        """Inverse of ``to_dict``, given the tabular spec it was fitted with."""
        scales = {
            c: (float(data["time_scales"][c][0]), float(data["time_scales"][c][1]))
            for c in _TIME_CHANNELS
        }
        return cls(
            config=SequenceConfig(**data["config"]),
            tabular=tabular,
            value_scales=ValueScales.from_dict(data["value_scales"]),
            vocabularies={c: tuple(data["vocabularies"][c]) for c in CATEGORICAL_CHANNELS},
            time_scales=scales,
            static_columns=tuple(data.get("static_columns", tabular.feature_names)),
            static_mean=tuple(float(v) for v in data["static_mean"]),
            static_std=tuple(float(v) for v in data["static_std"]),
            static_missing=tuple(data["static_missing"]),
        )


def _fit_value_scales(train_events: pl.DataFrame) -> ValueScales:
    """Per-test mean/std of OK values; NOK values then stand out as large |z|."""
    fitted = collect_plan(
        train_events.lazy()
        .filter(
            (pl.col("event_type") == RESULT_EVENT)
            & (pl.col("status") == RESULT_STATUS_OK)
            & pl.col("value").is_finite()
        )
        .group_by("code", "detail")
        .agg(
            pl.col("value").mean().alias("mean"),
            pl.col("value").std().alias("std"),
            pl.len().alias("n"),
        )
        .filter(pl.col("n") >= 2)
        .with_columns(std=pl.when(pl.col("std") > 0).then(pl.col("std")).otherwise(1.0))
        .sort("code", "detail"),
        input_rows=train_events.height,
    )
    return ValueScales(
        names=tuple(fitted.get_column("code").to_list()),
        value_ids=tuple(fitted.get_column("detail").to_list()),
        mean=tuple(fitted.get_column("mean").to_list()),
        std=tuple(fitted.get_column("std").to_list()),
    )


def _tokens() -> list[pl.Expr]:
    """Token of each categorical channel, prefixed by the event type so kinds never collide."""
    kind = pl.col("event_type")
    prefix = pl.concat_str(kind, pl.lit(":"))
    detail = (
        pl.when(kind == RESULT_EVENT)
        .then(pl.concat_str(prefix, pl.col("code"), pl.lit("/"), pl.col("detail")))
        .otherwise(pl.concat_str(prefix, pl.col("detail")))
    )
    return [
        kind.alias("_tok_event_type"),
        pl.concat_str(prefix, pl.col("code")).alias("_tok_code"),
        detail.alias("_tok_detail"),
        pl.concat_str(prefix, pl.col("id_group").cast(pl.String).fill_null("none")).alias(
            "_tok_group"
        ),
    ]


def _test_table(windows: SpecWindows, scales: ValueScales) -> pl.DataFrame:
    """Window and value scale of every test (code, detail) that has either."""
    return windows.frame.join(scales.frame, on=["code", "detail"], how="full", coalesce=True)


def _steps(
    events: pl.LazyFrame,
    tests: pl.DataFrame,
    near_limit: float,
    config: SequenceConfig,
) -> pl.LazyFrame:
    """One row per step: tokens and raw numbers, sorted by vehicle and step order.

    Steps keep the mart's event order (the events are sorted by ``seq`` and the
    group-by keeps the order of first appearance); ``t_offset`` is the same for
    every event of a step (they share the timestamp). The detail of a program
    visit is that of its weakest result: the smallest margin, the first in event
    order on a tie.
    """
    prepare, aggregate, finish = _step_expressions(near_limit, config)
    return (
        events.select(list(EVENT_COLUMNS))
        .sort("knr", "seq")
        .join(tests.lazy(), on=["code", "detail"], how="left", maintain_order="left")
        .with_columns(prepare[:2])
        .with_columns(prepare[2:])
        .group_by("_run", maintain_order=True)
        .agg(aggregate)
        .with_columns(finish)
    )


@lru_cache(maxsize=8)
def _step_expressions(
    near_limit: float, config: SequenceConfig
) -> tuple[tuple[pl.Expr, ...], tuple[pl.Expr, ...], tuple[pl.Expr, ...]]:
    """(per-event columns, per-step aggregations, per-step columns) of ``_steps``.

    Built once per setting: for the one vehicle an API request scores, building
    these hundred expressions cost as much as running them.
    """
    result = pl.col("event_type") == RESULT_EVENT
    z = ((pl.col("value") - pl.col("_mean")) / pl.col("_std")).clip(-config.clip, config.clip)
    step_key = pl.col("seq")
    if config.granularity == "program_visit":
        # The mart orders events by DATA, type, code: a program visit is a contiguous run.
        visit = pl.when(result).then(pl.lit(-1, pl.Int64)).otherwise(pl.col("seq"))
        step_key = pl.struct("data", "code", visit.alias("visit"))
    prepare = (
        margin().alias("margin"),
        pl.when(result & pl.col("value").is_finite()).then(z).alias("z"),
        pl.col("margin").fill_null(np.inf).alias("_weakness"),
        pl.struct(pl.col("knr"), step_key.alias("step")).rle_id().alias("_run"),
    )
    aggregate = (
        pl.col("knr").first(),
        pl.col("event_type").first(),
        pl.col("code").first(),
        pl.col("detail").get(pl.col("_weakness").arg_min()),
        pl.col("id_group").first(),
        result.sum().alias("n_results"),
        pl.col("is_nok").mean().alias("nok_share"),
        pl.col("is_rework").mean().alias("rework_share"),
        pl.col("z").min().fill_null(0.0).alias("value_z_min"),
        pl.col("z").max().fill_null(0.0).alias("value_z_max"),
        pl.col("z").is_not_null().mean().alias("value_share"),
        pl.col("margin").min().fill_null(0.0).alias("margin_min"),
        pl.col("margin").is_not_null().mean().alias("margin_share"),
        (pl.col("margin") < near_limit).fill_null(False).mean().alias("near_limit_share"),
        pl.col("t_offset_seconds").first().alias("t_offset"),
    )
    finish = (
        *_tokens(),
        pl.col("t_offset").diff().over("knr").fill_null(0.0).alias("dt_prev"),
        pl.int_range(pl.len(), dtype=pl.Int64).over("knr").alias("_pos"),
        pl.len().over("knr").cast(pl.Int64).alias("_n"),
    )
    return prepare, aggregate, finish


def _log_seconds(column: str) -> pl.Expr:
    return pl.col(column).clip(lower_bound=0.0).log1p()


def _vocabulary(counts: pl.Series, min_count: int) -> tuple[str, ...]:
    frame = counts.value_counts()
    kept = frame.filter(pl.col("count") >= min_count).get_column(counts.name)
    return tuple(sorted(kept.to_list()))


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and deviation for standardising; (0, 1) where they would be undefined."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    std = float(finite.std())
    return float(finite.mean()), std if std > 0 else 1.0


def fit_sequence_spec(
    train_events: pl.DataFrame,
    train_features: pl.DataFrame,
    config: SequenceConfig | None = None,
    tabular: TabularSpec | None = None,
) -> SequenceSpec:
    """Fit vocabularies and scalers on training vehicles only.

    Tokens are counted per event, so every VALUE_ID seen often enough in
    training has a code, whichever result of a visit ends up its weakest.

    ``tabular``: the fitted tabular spec to take the spec windows and static
    inputs from (fitted here with default settings when not given).
    """
    config = config or SequenceConfig()
    require_columns(train_events, EVENT_COLUMNS, "the training event table")
    tabular = tabular or fit_tabular_spec(train_features, train_events)
    scales = _fit_value_scales(train_events)
    tokens = collect_plan(train_events.lazy().select(_tokens()), train_events.height)
    times = collect_plan(
        _steps(
            train_events.lazy(),
            _test_table(tabular.windows, scales),
            tabular.config.near_limit,
            config,
        ).select(
            _log_seconds("dt_prev").alias("log_dt_prev"),
            _log_seconds("t_offset").alias("log_t_offset"),
        ),
        input_rows=train_events.height,
    )
    columns = _static_columns(tabular, config)
    table = build_tabular(train_features, train_events, tabular)
    static = _select_columns(table.features, table.feature_names, columns).astype(np.float64)
    moments = [_mean_std(static[:, j]) for j in range(static.shape[1])]
    missing: np.ndarray = np.asarray(np.isnan(static).any(axis=0))
    return SequenceSpec(
        config=config,
        tabular=tabular,
        value_scales=scales,
        vocabularies={
            c: _vocabulary(tokens.get_column(f"_tok_{c}"), config.min_count)
            for c in CATEGORICAL_CHANNELS
        },
        time_scales={c: _mean_std(times.get_column(c).to_numpy()) for c in _TIME_CHANNELS},
        static_columns=columns,
        static_mean=tuple(m for m, _ in moments),
        static_std=tuple(s for _, s in moments),
        static_missing=tuple(n for j, n in enumerate(columns) if missing[j]),
    )


def _encoded(spec: SequenceSpec) -> list[pl.Expr]:
    exprs = []
    for channel in CATEGORICAL_CHANNELS:
        tokens = spec.vocabularies[channel]
        codes = range(FIRST_TOKEN_CODE, FIRST_TOKEN_CODE + len(tokens))
        exprs.append(
            pl.col(f"_tok_{channel}")
            .replace_strict(list(tokens), list(codes), default=UNKNOWN_CODE, return_dtype=pl.Int64)
            .alias(f"_cat_{channel}")
        )
    return exprs


def _numeric(spec: SequenceSpec) -> list[pl.Expr]:
    clip = spec.config.clip
    exprs = {
        "log_n_results": pl.col("n_results").cast(pl.Float64).log1p(),
        **{c: pl.col(c).cast(pl.Float64) for c in _STEP_STATISTICS},
    }
    for channel, source in (("log_dt_prev", "dt_prev"), ("log_t_offset", "t_offset")):
        mean, std = spec.time_scales[channel]
        exprs[channel] = ((_log_seconds(source) - mean) / std).clip(-clip, clip)
    return [exprs[c].cast(pl.Float32).alias(f"_num_{c}") for c in NUMERIC_CHANNELS]


def _static_columns(tabular: TabularSpec, config: SequenceConfig) -> tuple[str, ...]:
    """The vehicle-table columns the network gets (see ``SequenceConfig.static_positions``)."""
    if config.static_positions:
        return tabular.feature_names
    tail = set(tabular.tail_feature_names)
    return tuple(n for n in tabular.feature_names if n not in tail)


def _select_columns(rows: np.ndarray, names: Sequence[str], wanted: Sequence[str]) -> np.ndarray:
    index = {name: j for j, name in enumerate(names)}
    return rows[:, [index[name] for name in wanted]]


def _static(features: pl.DataFrame, events: pl.DataFrame, spec: SequenceSpec) -> np.ndarray:
    """Static inputs: the chosen table columns standardised, clipped, NaN as 0, plus the
    missing indicators."""
    needed = not set(spec.tabular.tail_feature_names).isdisjoint(spec.static_columns)
    table = build_tabular(features, events, spec.tabular, with_positions=needed)
    raw = _select_columns(table.features, table.feature_names, spec.static_columns)
    raw = raw.astype(np.float64)
    z = (raw - np.asarray(spec.static_mean)) / np.asarray(spec.static_std)
    z = np.clip(np.nan_to_num(z, nan=0.0), -spec.config.clip, spec.config.clip)
    indicators = np.isnan(_select_columns(raw, spec.static_columns, spec.static_missing))
    return np.hstack([z, indicators.astype(np.float64)]).astype(np.float32)


def _aligned_features(features: pl.DataFrame, knrs: pl.DataFrame) -> pl.DataFrame:
    """``features`` rows in the order of ``knrs``; refuses KNRs without a row."""
    require_unique_knrs(features, "the feature table")
    if features.get_column("knr").equals(knrs.get_column("knr")):
        return features
    absent = knrs.join(features.select("knr"), on="knr", how="anti")
    if absent.height:
        shown = ", ".join(absent.get_column("knr").head(5).to_list())
        raise ValueError(
            f"{absent.height} vehicle(s) asked for have no row in the feature table, e.g. "
            f"{shown}: build their marts first (a KNR with no data cannot be scored)"
        )
    return knrs.join(features, on="knr", how="left", maintain_order="left")


def build_sequences(
    events: pl.DataFrame,
    features: pl.DataFrame,
    spec: SequenceSpec,
    knrs: Sequence[str],
) -> SequenceInputs:
    """Sequences of the vehicles ``knrs``, in that order, padded to the longest of them.

    ``events``/``features`` are mart_vehicle_events / mart_vehicle_features rows
    (rows of other vehicles are ignored). A vehicle with no events gets one
    event coded ``EMPTY_CODE`` with zero numbers.
    """
    if not knrs:
        raise ValueError("build_sequences needs at least one KNR")
    require_columns(events, EVENT_COLUMNS, "the event table")
    wanted = pl.DataFrame({"knr": list(knrs)}, schema={"knr": pl.String})
    require_unique_knrs(wanted, "the list of KNRs to build")
    aligned = _aligned_features(features, wanted)
    mine = events.lazy().join(wanted.lazy(), on="knr", how="semi")
    max_len = spec.config.max_len
    steps = collect_plan(
        _steps(mine, spec.tests, spec.tabular.config.near_limit, spec.config)
        .with_columns(_pos=pl.col("_pos") - (pl.col("_n") - max_len).clip(lower_bound=0))
        .filter(pl.col("_pos") >= 0)
        .join(wanted.with_row_index("_vehicle").lazy(), on="knr", how="inner")
        .select("_vehicle", "_pos", *spec.encoders),
        input_rows=events.height,
    )
    return _scatter(steps, len(knrs), _static(aligned, events, spec))


def _scatter(steps: pl.DataFrame, n_vehicles: int, static: np.ndarray) -> SequenceInputs:
    """Place each step at (vehicle, position) of zero-padded arrays: the only per-row numpy."""
    vehicle = steps.get_column("_vehicle").to_numpy().astype(np.int64)
    position = steps.get_column("_pos").to_numpy().astype(np.int64)
    lengths = np.bincount(vehicle, minlength=n_vehicles).astype(np.int64)
    empty = lengths == 0
    lengths[empty] = 1
    width = int(lengths.max())
    categorical = np.full(
        (n_vehicles, width, len(CATEGORICAL_CHANNELS)), PADDING_CODE, dtype=np.int64
    )
    numeric = np.zeros((n_vehicles, width, len(NUMERIC_CHANNELS)), dtype=np.float32)
    categorical[vehicle, position] = steps.select(
        f"_cat_{c}" for c in CATEGORICAL_CHANNELS
    ).to_numpy()
    numeric[vehicle, position] = steps.select(f"_num_{c}" for c in NUMERIC_CHANNELS).to_numpy()
    categorical[empty, 0] = EMPTY_CODE
    return SequenceInputs(categorical=categorical, numeric=numeric, lengths=lengths, static=static)
