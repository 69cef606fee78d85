"""The numbers and tables the dashboard shows, computed from warehouse, lake and registry frames.

Every function here takes frames (or plain values) and returns frames or
numbers: no Streamlit, no I/O. Each page only fetches its frames and hands
them to these functions, so every figure on screen is tested directly.

Expected share of failures caught at an inspection budget
---------------------------------------------------------
The road-test team gives the full test to the ``budget`` share of awaiting
cars with the highest predicted risk: ``k = floor(budget × N)`` of the ``N``
awaiting cars, at least one (the same count ``training.evaluate`` uses for
the recall at budget). If each car fails independently with its predicted
probability ``p_i``, the expected number of failures among the awaiting cars
is ``Σ p_i`` and the expected number among the ``k`` tested ones is the sum of
their ``p_i``. So::

    expected share caught(budget) = Σ top-k p_i / Σ all p_i

It is as good as the model's calibration: the Models page shows whether the
predicted probabilities match the observed failure rate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from roadtest.contracts.partner import PRE_ROAD_TEST_HALLES, S_GROUPS
from roadtest.contracts.warehouse import UNKNOWN_GROUP, slug
from roadtest.monitor.drift import (
    DRIFT_CATEGORICAL,
    DRIFT_NUMERIC,
    drift_level,
    population_stability,
)
from roadtest.training.evaluate import recall_at_budget

_EPSILON: Final = 1e-9

GROUP_SLUGS: Final[tuple[str, ...]] = (*(slug(name) for name in S_GROUPS.values()), UNKNOWN_GROUP)
"""Failure groups as the warehouse names them (``fails_<slug>`` columns), unknown last."""

GROUP_BY_ID: Final[dict[int, str]] = {gid: slug(name) for gid, name in S_GROUPS.items()}

CHECKED_GROUPS: Final = 2
"""Failure groups named per vehicle on the planning list: the two the model finds likeliest."""

DEFAULT_BUDGET: Final = 0.2
"""Inspection budget the planning page opens with (the promotion rule's budget)."""

MIN_VEHICLES: Final = 5
"""Fewest vehicles behind a rate before it is ranked: below that one failure swings it wildly."""


Period = Literal["1d", "1w", "1mo"]
DefectScope = Literal["road_test", "before_road_test", "all"]


def _check_budget(budget: float) -> None:
    if not 0 < budget <= 1:
        raise ValueError(f"the inspection budget is a share in (0, 1], got {budget}")


# --- 1. road-test planning ------------------------------------------------------------


def inspected_count(n_vehicles: int, budget: float) -> int:
    """Cars given the full road test at ``budget``: floor(budget × N), at least one if any waits."""
    _check_budget(budget)
    if n_vehicles == 0:
        return 0
    return max(1, math.floor(budget * n_vehicles + _EPSILON))


def expected_share_caught(probabilities: Sequence[float] | pl.Series, budget: float) -> float:
    """Σ of the top-k predicted probabilities / Σ of all (see the module docstring).

    NaN when no car waits or every probability is zero: then no failure is expected
    and there is no share to speak of.
    """
    p = np.sort(np.asarray(probabilities, dtype=np.float64))[::-1]
    k = inspected_count(p.size, budget)
    total = float(p.sum())
    if p.size == 0 or total <= 0:
        return float("nan")
    return float(p[:k].sum() / total)


def expected_capture_curve(
    probabilities: Sequence[float] | pl.Series, points: int = 101
) -> pl.DataFrame:
    """Expected share of failures caught (``share``) at every ``budget`` from 1 % to 100 %."""
    budgets = np.linspace(0.01, 1.0, points)
    shares = [expected_share_caught(probabilities, float(b)) for b in budgets]
    return pl.DataFrame({"budget": budgets, "share": shares})


def awaiting_vehicles(features: pl.DataFrame) -> pl.DataFrame:
    """Rows of vehicles with pre-road-test data that have not reached the road test."""
    return features.filter(~pl.col("labelled"))


def plan_inspections(scored: pl.DataFrame, budget: float) -> pl.DataFrame:
    """Awaiting vehicles by decreasing risk, marking those given the full road test at ``budget``.

    ``scored`` holds ``knr`` and ``probability`` (and whatever else should travel
    along, such as the likeliest failure groups). Equal risks are ordered by KNR,
    so neither the list nor the budget line depends on the order rows came in.
    Adds ``rank`` (1 = riskiest), ``full_test`` and ``expected_share_caught``
    (the expected share of failures caught when testing down to that row).
    """
    k = inspected_count(scored.height, budget)
    ranked = scored.sort(["probability", "knr"], descending=[True, False])
    total = float(ranked.get_column("probability").sum()) if ranked.height else 0.0
    share = pl.col("probability").cum_sum() / total if total > 0 else pl.lit(None, dtype=pl.Float64)
    return ranked.with_row_index("rank", offset=1).with_columns(
        pl.col("rank").cast(pl.Int64),
        full_test=pl.int_range(1, ranked.height + 1, dtype=pl.Int64) <= k,
        expected_share_caught=share,
    )


@dataclass(frozen=True)
class PlanSummary:
    """The headline numbers of the planning page."""

    budget: float
    awaiting: int
    full_test: int
    expected_failures: float
    expected_caught: float
    expected_share: float


def summarise_plan(plan: pl.DataFrame, budget: float) -> PlanSummary:
    """How many cars wait, how many get the full test, and the failures expected among them."""
    probabilities = plan.get_column("probability")
    tested = plan.filter(pl.col("full_test")).get_column("probability")
    return PlanSummary(
        budget=budget,
        awaiting=plan.height,
        full_test=tested.len(),
        expected_failures=float(probabilities.sum()),
        expected_caught=float(tested.sum()),
        expected_share=expected_share_caught(probabilities, budget),
    )


def groups_to_check(plan: pl.DataFrame, count: int = CHECKED_GROUPS) -> pl.DataFrame:
    """``plan`` with ``check_groups``: the slugs of each car's ``count`` likeliest failure groups.

    Reads the ``group_<n>`` columns of ``scoring.score_vehicles`` (likeliest first),
    whose names ("back-office test") become the warehouse's slugs ("back_office_test").
    """
    columns = [f"group_{n}" for n in range(1, count + 1) if f"group_{n}" in plan.columns]
    if not columns:
        return plan.with_columns(check_groups=pl.lit([], dtype=pl.List(pl.String)))
    slugs = [pl.col(c).map_elements(slug, return_dtype=pl.String) for c in columns]
    return plan.with_columns(check_groups=pl.concat_list(slugs))


def plan_csv(table: pl.DataFrame) -> bytes:
    """The planning list as CSV (UTF-8 with BOM so spreadsheet programs read accents right)."""
    flat = table.with_columns(
        pl.col(name).list.join(" | ")
        for name, dtype in table.schema.items()
        if isinstance(dtype, pl.List)
    )
    return "\ufeff".encode() + flat.write_csv().encode("utf-8")


# --- 2. vehicle ---------------------------------------------------------------------------


TIMELINE_SCHEMA: Final = pl.Schema(
    {
        "data": pl.Datetime("us"),
        "lane": pl.String(),
        "kind": pl.String(),
        "code": pl.String(),
        "detail": pl.String(),
    }
)
"""One row per event of a vehicle: lane zone/result/defect, kind says how it is highlighted."""


def vehicle_timeline(
    passages: pl.DataFrame, results: pl.DataFrame, defects: pl.DataFrame
) -> pl.DataFrame:
    """A vehicle's zone passages, test results and defects on one time axis.

    Result kinds: ``nok`` (status 13, highlighted first), ``rework`` (a retest),
    ``ok``. Defect kinds: ``road_test`` (found at the road test: the failure),
    ``earlier`` (found before it: a feature), ``later`` (water test, ZP8 …).
    """
    zone_rows = passages.select(
        "data",
        lane=pl.lit("zone"),
        kind=pl.lit("passage"),
        code=pl.col("status_code"),
        detail=pl.col("zone").fill_null(""),
    )
    result_rows = results.select(
        "data",
        lane=pl.lit("result"),
        kind=pl.when(pl.col("is_nok"))
        .then(pl.lit("nok"))
        .when(pl.col("is_rework"))
        .then(pl.lit("rework"))
        .otherwise(pl.lit("ok")),
        code=pl.col("name"),
        detail=pl.col("value_id"),
    )
    defect_rows = defects.select(
        "data",
        lane=pl.lit("defect"),
        kind=pl.when(pl.col("is_road_test_defect"))
        .then(pl.lit("road_test"))
        .when(pl.col("before_road_test"))
        .then(pl.lit("earlier"))
        .otherwise(pl.lit("later")),
        code=pl.col("halle"),
        detail=pl.col("falha"),
    )
    frames = [f.cast(TIMELINE_SCHEMA) for f in (zone_rows, result_rows, defect_rows)]
    return pl.concat(frames).sort("data", "lane", "code")


def result_highlights(results: pl.DataFrame) -> pl.DataFrame:
    """The NOK results and retests of a vehicle, newest last."""
    return results.filter(pl.col("is_nok") | pl.col("is_rework")).sort("data")


@dataclass(frozen=True)
class VehicleOutcome:
    """A vehicle's road-test outcome once known."""

    failed: bool
    groups: tuple[str, ...]
    road_test_start_at: datetime
    rod_defects: int


def group_slugs(failure_groups: str) -> tuple[str, ...]:
    """Slugs of a ``vehicle_label.failure_groups`` value ('4,9830946' → doors, electrical)."""
    ids = [int(part) for part in failure_groups.split(",") if part.strip()]
    return tuple(GROUP_BY_ID.get(gid, UNKNOWN_GROUP) for gid in ids)


def vehicle_outcome(label: pl.DataFrame) -> VehicleOutcome | None:
    """The outcome in a vehicle's ``vehicle_label`` rows, None while it awaits the road test."""
    if label.height == 0:
        return None
    row = label.row(0, named=True)
    groups = group_slugs(row["failure_groups"])
    if row["road_test_failed"] and not groups and row.get("fails_unknown"):
        groups = (UNKNOWN_GROUP,)
    return VehicleOutcome(
        failed=bool(row["road_test_failed"]),
        groups=groups,
        road_test_start_at=row["road_test_start_at"],
        rod_defects=int(row["n_rod_defects"]),
    )


@dataclass(frozen=True)
class VehicleFacts:
    """The counts shown at the top of the vehicle page."""

    results: int
    nok: int
    reworks: int
    passages: int
    earlier_defects: int
    complete_chain: bool | None


def vehicle_facts(
    vehicle: pl.DataFrame, results: pl.DataFrame, passages: pl.DataFrame, defects: pl.DataFrame
) -> VehicleFacts:
    """Counts of a vehicle's results, NOKs, retests, passages and pre-road-test defects."""
    chain = None if vehicle.height == 0 else bool(vehicle.get_column("has_complete_chain")[0])
    return VehicleFacts(
        results=results.height,
        nok=int(results.get_column("is_nok").sum()),
        reworks=int(results.get_column("is_rework").sum()),
        passages=passages.height,
        earlier_defects=int(defects.get_column("before_road_test").sum()),
        complete_chain=chain,
    )


# --- 3. quality analysis ------------------------------------------------------------------


def _rate_table(frame: pl.DataFrame, key: str | list[str]) -> pl.DataFrame:
    """Vehicles, failures and failure rate per ``key`` of one row per (vehicle, key)."""
    return (
        frame.group_by(key)
        .agg(
            vehicles=pl.col("knr").n_unique().cast(pl.Int64),
            failed=pl.col("road_test_failed").cast(pl.Int64).sum(),
        )
        .with_columns(failure_rate=pl.col("failed") / pl.col("vehicles"))
    )


def overall_failure_rate(labels: pl.DataFrame) -> float:
    """Share of labelled vehicles that failed the road test (NaN when none is labelled)."""
    if labels.height == 0:
        return float("nan")
    return float(labels.get_column("road_test_failed").mean())  # type: ignore[arg-type]


def failure_rate_over_time(labels: pl.DataFrame, every: Period = "1w") -> pl.DataFrame:
    """Road-test failure rate per day, week or month of road-test start."""
    periods = labels.with_columns(period=pl.col("road_test_start_at").dt.truncate(every))
    return _rate_table(periods, "period").sort("period")


def failure_rate_by_group(labels: pl.DataFrame) -> pl.DataFrame:
    """Per failure group: failed vehicles, their share of all and of failed vehicles."""
    vehicles = labels.height
    failed = int(labels.get_column("road_test_failed").sum()) if vehicles else 0
    rows = [
        {
            "group": group,
            "failed": int(labels.get_column(f"fails_{group}").sum()) if vehicles else 0,
        }
        for group in GROUP_SLUGS
        if f"fails_{group}" in labels.columns
    ]
    table = pl.DataFrame(rows, schema={"group": pl.String, "failed": pl.Int64})
    return table.with_columns(
        share_of_vehicles=pl.col("failed") / vehicles if vehicles else pl.lit(None, pl.Float64),
        share_of_failures=pl.col("failed") / failed if failed else pl.lit(None, pl.Float64),
    ).sort("failed", "group", descending=[True, False])


def failure_rate_by_attribute(
    labels: pl.DataFrame, vehicles: pl.DataFrame, column: str
) -> pl.DataFrame:
    """Road-test failure rate per value of a vehicle attribute (``motor``, ``cor``, ``modelo``)."""
    joined = labels.select("knr", "road_test_failed").join(
        vehicles.select("knr", column), on="knr", how="left"
    )
    return _rate_table(joined, column).sort("failure_rate", column, descending=[True, False])


def _with_lift(table: pl.DataFrame, overall: float) -> pl.DataFrame:
    lift = pl.col("failure_rate") / overall if overall > 0 else pl.lit(None, pl.Float64)
    return table.with_columns(lift=lift)


def failure_association(
    flags: pl.DataFrame, labels: pl.DataFrame, key: str, min_vehicles: int = MIN_VEHICLES
) -> pl.DataFrame:
    """How much more often vehicles with a given flag fail the road test than vehicles overall.

    ``flags`` has one row per (``knr``, ``key``) a vehicle carries: a test program
    it had a NOK in, a station that logged a defect on it, a zone it had a defect in.
    ``lift`` = failure rate of the flagged vehicles / failure rate of all labelled
    ones; keys with fewer than ``min_vehicles`` labelled vehicles are left out.
    An association, not a cause: the Quality page says so next to the table.
    """
    joined = (
        flags.select("knr", key)
        .unique()
        .join(labels.select("knr", "road_test_failed"), on="knr", how="inner")
    )
    table = _rate_table(joined, key).filter(pl.col("vehicles") >= min_vehicles)
    return _with_lift(table, overall_failure_rate(labels)).sort(
        ["lift", "failed", key], descending=[True, True, False], nulls_last=True
    )


def earlier_defect_zones(defects: pl.DataFrame) -> pl.DataFrame:
    """(knr, halle) of defects found before the road test, in the pre-road-test zones."""
    return defects.filter(
        pl.col("before_road_test") & pl.col("halle").is_in(PRE_ROAD_TEST_HALLES)
    ).select("knr", "halle")


def nok_programs(results: pl.DataFrame) -> pl.DataFrame:
    """(knr, name) of the test programs a vehicle had a NOK in before its road test."""
    return results.filter(pl.col("is_nok") & pl.col("known_before_road_test")).select("knr", "name")


def defect_stations(defects: pl.DataFrame) -> pl.DataFrame:
    """(knr, estacao) of the inspection stations that logged a defect before the road test."""
    return defects.filter(pl.col("before_road_test") & pl.col("estacao").is_not_null()).select(
        "knr", "estacao"
    )


def defect_scope(defects: pl.DataFrame, scope: DefectScope) -> pl.DataFrame:
    """Defects found at the road test, before it, or all of them."""
    if scope == "road_test":
        return defects.filter(pl.col("is_road_test_defect"))
    if scope == "before_road_test":
        return defects.filter(pl.col("before_road_test"))
    return defects


def defect_pareto(defects: pl.DataFrame, top: int = 20) -> pl.DataFrame:
    """The ``top`` most frequent defect texts with their share and cumulative share of all."""
    total = defects.height
    counts = (
        defects.group_by("falha")
        .agg(count=pl.len().cast(pl.Int64))
        .sort(["count", "falha"], descending=[True, False])
    )
    if total == 0:
        return counts.with_columns(
            share=pl.lit(None, pl.Float64), cumulative_share=pl.lit(None, pl.Float64)
        )
    return counts.with_columns(
        share=pl.col("count") / total, cumulative_share=pl.col("count").cum_sum() / total
    ).head(top)


def result_rates_by(results: pl.DataFrame, column: str) -> pl.DataFrame:
    """NOK and retest rates of test results per ``column`` (``name`` or ``zone_at_result``)."""
    return (
        results.group_by(column)
        .agg(
            results=pl.len().cast(pl.Int64),
            vehicles=pl.col("knr").n_unique().cast(pl.Int64),
            nok=pl.col("is_nok").cast(pl.Int64).sum(),
            rework=pl.col("is_rework").cast(pl.Int64).sum(),
        )
        .with_columns(
            nok_rate=pl.col("nok") / pl.col("results"),
            rework_rate=pl.col("rework") / pl.col("results"),
        )
        .sort(["nok_rate", column], descending=[True, False], nulls_last=True)
    )


# --- 4. models ------------------------------------------------------------------------------


def version_metrics(metrics: Mapping[str, float], kind: str) -> dict[str, float]:
    """A registered model's own test-window metrics: the run's ``test/<kind>/<metric>`` values."""
    prefix = f"test/{kind}/"
    return {
        key.removeprefix(prefix): value
        for key, value in metrics.items()
        if key.startswith(prefix) and key.count("/") == 2 and math.isfinite(value)
    }


VERSION_METRICS: Final = (
    "roc_auc",
    "pr_auc",
    "recall_at_10pct",
    "recall_at_20pct",
    "recall_at_30pct",
    "brier",
    "calibration_error",
    "threshold",
    "n_vehicles",
    "n_failed",
)


@dataclass(frozen=True)
class VersionRecord:
    """What the Models page needs of one registered version (built from ``VersionDetails``)."""

    version: str
    kind: str
    created_at: datetime
    champion: bool
    promotion: str
    promotion_reason: str
    metrics: Mapping[str, float]
    params: Mapping[str, str]


def versions_table(records: Sequence[VersionRecord]) -> pl.DataFrame:
    """One row per version, oldest first, with its test-window metrics (null when not logged)."""
    schema: dict[str, pl.DataType] = {
        "version": pl.String(),
        "kind": pl.String(),
        "created_at": pl.Datetime("us", "UTC"),
        "champion": pl.Boolean(),
        "promotion": pl.String(),
        **{name: pl.Float64() for name in VERSION_METRICS},
    }
    rows: list[dict[str, Any]] = []
    for record in records:
        own = version_metrics(record.metrics, record.kind)
        rows.append(
            {
                "version": record.version,
                "kind": record.kind,
                "created_at": record.created_at,
                "champion": record.champion,
                "promotion": record.promotion,
                **{name: own.get(name) for name in VERSION_METRICS},
            }
        )
    return pl.DataFrame(rows, schema=schema).sort(pl.col("version").cast(pl.Int64))


def confusion_matrix(metrics: Mapping[str, float]) -> np.ndarray | None:
    """[[tn, fp], [fn, tp]] of a version's own test metrics, None when they were not logged."""
    cells = [metrics.get(name) for name in ("tn", "fp", "fn", "tp")]
    if any(cell is None or not math.isfinite(cell) for cell in cells):
        return None
    return np.array(cells, dtype=np.int64).reshape(2, 2)


def activation_history(activations: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Which version served when, newest first, with how many days each period lasted."""
    return (
        activations.with_columns(
            days=(
                (
                    pl.col("active_to").fill_null(pl.lit(now, pl.Datetime("us", "UTC")))
                    - pl.col("active_from")
                ).dt.total_seconds()
                / 86_400.0
            ),
            serving=pl.col("active_to").is_null(),
        )
        .select("model_version", "active_from", "active_to", "days", "serving")
        .sort("active_from", descending=True)
    )


def awaiting_outcome(predictions: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Vehicles with a stored prediction but no road-test outcome yet, per version."""
    return (
        predictions.join(labels.select("knr"), on="knr", how="anti")
        .group_by("model_version")
        .agg(awaiting=pl.col("knr").n_unique().cast(pl.Int64))
    )


def _safe_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < y.size else None


def _safe_ap(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(average_precision_score(y, p)) if y.sum() > 0 else None


def live_performance(live: pl.DataFrame, budget: float = DEFAULT_BUDGET) -> pl.DataFrame:
    """Per model version, its live predictions against the outcomes that arrived.

    ``flagged_recall`` is the share of failing cars the served decision sent to
    the full test; ``recall_at_budget`` the share among the ``budget`` riskiest.
    Undefined metrics (no failure yet, or only failures) are null.
    """
    _check_budget(budget)
    rows: list[dict[str, Any]] = []
    for (version,), group in live.group_by("model_version", maintain_order=True):
        y = group.get_column("road_test_failed").cast(pl.Int64).to_numpy()
        p = group.get_column("probability").to_numpy()
        flagged = group.get_column("decision").to_numpy()
        failures = int(y.sum())
        rows.append(
            {
                "model_version": str(version),
                "vehicles": int(y.size),
                "failed": failures,
                "failure_rate": failures / y.size,
                "mean_probability": float(p.mean()),
                "roc_auc": _safe_auc(y, p),
                "pr_auc": _safe_ap(y, p),
                "recall_at_budget": recall_at_budget(y, p, budget) if failures else None,
                "flagged_share": float(flagged.mean()),
                "flagged_recall": float(flagged[y == 1].mean()) if failures else None,
            }
        )
    schema = {
        "model_version": pl.String(),
        "vehicles": pl.Int64(),
        "failed": pl.Int64(),
        "failure_rate": pl.Float64(),
        "mean_probability": pl.Float64(),
        "roc_auc": pl.Float64(),
        "pr_auc": pl.Float64(),
        "recall_at_budget": pl.Float64(),
        "flagged_share": pl.Float64(),
        "flagged_recall": pl.Float64(),
    }
    return pl.DataFrame(rows, schema=schema).sort(pl.col("model_version").cast(pl.Int64))


def live_over_time(live: pl.DataFrame, every: Period = "1w") -> pl.DataFrame:
    """Per version and period of road-test start: mean predicted risk against the observed rate."""
    return (
        live.with_columns(period=pl.col("road_test_start_at").dt.truncate(every))
        .group_by("model_version", "period")
        .agg(
            vehicles=pl.len().cast(pl.Int64),
            mean_probability=pl.col("probability").mean(),
            failure_rate=pl.col("road_test_failed").cast(pl.Float64).mean(),
        )
        .sort("model_version", "period")
    )


def drift_table(
    reference: pl.DataFrame,
    recent: pl.DataFrame,
    numeric: Sequence[str] = DRIFT_NUMERIC,
    categorical: Sequence[str] = DRIFT_CATEGORICAL,
) -> pl.DataFrame:
    """Per watched feature: its stability index, level, and reference vs recent mean or mode."""
    rows: list[dict[str, Any]] = []
    for name in [c for c in (*numeric, *categorical) if c in reference.columns]:
        ref, new = reference.get_column(name), recent.get_column(name)
        psi = population_stability(ref, new)
        is_number = name in numeric
        rows.append(
            {
                "feature": name,
                "psi": psi,
                "level": drift_level(psi),
                "reference": _typical(ref, is_number),
                "recent": _typical(new, is_number),
                "reference_missing": _missing_share(ref),
                "recent_missing": _missing_share(new),
            }
        )
    schema = {
        "feature": pl.String(),
        "psi": pl.Float64(),
        "level": pl.String(),
        "reference": pl.String(),
        "recent": pl.String(),
        "reference_missing": pl.Float64(),
        "recent_missing": pl.Float64(),
    }
    return pl.DataFrame(rows, schema=schema).sort("psi", descending=True, nulls_last=True)


def _typical(values: pl.Series, is_number: bool) -> str:
    """Mean of a number column, most frequent value of a text one, as text for one table."""
    known = values.drop_nulls()
    if known.len() == 0:
        return "–"
    if is_number:
        return f"{float(known.cast(pl.Float64).mean()):.4g}"  # type: ignore[arg-type]
    return str(known.mode().sort().first())


def _missing_share(values: pl.Series) -> float | None:
    return None if values.len() == 0 else values.null_count() / values.len()


# --- 5. data ----------------------------------------------------------------------------------


def ingestion_history(manifest: pl.DataFrame) -> pl.DataFrame:
    """Ingested files, newest first."""
    return manifest.sort("received_at", descending=True)


def ingestion_by_day(manifest: pl.DataFrame) -> pl.DataFrame:
    """Per day of receipt: files, rows read, loaded to bronze, and quarantined."""
    return (
        manifest.group_by(day=pl.col("received_at").dt.date())
        .agg(
            files=pl.len().cast(pl.Int64),
            rejected_files=(pl.col("outcome") == "rejected").cast(pl.Int64).sum(),
            rows_read=pl.col("rows_read").sum(),
            rows_bronze=pl.col("rows_bronze").sum(),
            rows_quarantined=pl.col("rows_quarantined").sum(),
        )
        .sort("day")
    )


_QUOTED: Final = re.compile(r"'[^']*'")


def reason_kind(reason: str) -> str:
    """A quarantine reason with the quoted cell values removed, so alike reasons group together."""
    return _QUOTED.sub("…", reason)


def quarantine_summary(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Rejected rows per source table and kind of reason (a row may have several reasons)."""
    reasons = (
        quarantine.select("table", "reason")
        .with_columns(pl.col("reason").str.split("; "))
        .explode("reason")
        .with_columns(pl.col("reason").map_elements(reason_kind, return_dtype=pl.String))
    )
    return (
        reasons.group_by("table", "reason")
        .agg(rows=pl.len().cast(pl.Int64))
        .sort(["rows", "table", "reason"], descending=[True, False, False])
    )


def latest_run(etl_runs: pl.DataFrame) -> str | None:
    """Id of the most recent ETL run, None before the first."""
    if etl_runs.height == 0:
        return None
    return str(etl_runs.sort("started_at").get_column("run_id")[-1])


def checks_of_run(dq_checks: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """One ETL run's data-quality checks, failed ones first, hard before soft."""
    return dq_checks.filter(pl.col("run_id") == run_id).sort(
        "passed", pl.col("severity") != "hard", "check_name"
    )


# --- 6. system health -----------------------------------------------------------------------


def health_summary(history: pl.DataFrame) -> pl.DataFrame:
    """Per service: checks, share OK, last check and its outcome, last failure, median latency."""
    ordered = history.sort("checked_at")
    return (
        ordered.group_by("service", maintain_order=True)
        .agg(
            n_checks=pl.len().cast(pl.Int64),
            ok_share=pl.col("ok").cast(pl.Float64).mean(),
            last_checked_at=pl.col("checked_at").last(),
            last_ok=pl.col("ok").last(),
            last_failure_at=pl.col("checked_at").filter(~pl.col("ok")).last(),
            median_latency_ms=pl.col("latency_ms").median(),
        )
        .sort("service")
    )
