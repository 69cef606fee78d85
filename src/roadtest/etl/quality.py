"""Data-quality checks of one ETL load: pure functions from frames to check results.

A *hard* check protects what later stages rely on (unique keys, references that
resolve, values in their domain, every bronze row accounted for); when one fails
the load is rolled back. A *soft* check watches a known defect of the partner's
data (incomplete zone chains, negative gaps) against a tolerance and is reported
only. Every check, passed or not, is stored with the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import polars as pl

from roadtest.contracts.partner import RESULT_STATUSES, SourceTable
from roadtest.contracts.warehouse import TRANSFORM_TABLES
from roadtest.warehouse.schema import Reference, references

Severity = Literal["hard", "soft"]

MAX_BROKEN_CHAIN_SHARE: Final = 0.35
"""Tolerated share of road-tested vehicles without a complete ZP5→ZP7 chain.

Real exports lack a complete chain for about a fifth of vehicles; well above that,
the STATUS export is probably truncated."""

MAX_NEGATIVE_GAP_SHARE: Final = 0.05
"""Tolerated share of main-chain passages whose gap to the previous zone is negative."""

MAX_FAILURE_RATE: Final = 0.25
"""Tolerated road-test failure rate among labelled vehicles (the plant sees 5–7 %)."""

_FACT_KEYS: Final[dict[SourceTable, tuple[str, tuple[str, ...]]]] = {
    SourceTable.RESULTADOS: ("fact_test_result", ("KNR", "NAME", "VALUE_ID", "DATA")),
    SourceTable.STATUS: ("fact_zone_passage", ("KNR", "STATUS", "DATA")),
    SourceTable.FALHAS: ("fact_defect", ("KNR", "HALLE", "FALHA", "DATA")),
}
"""Each bronze table's fact table and the partner columns one fact row stands for."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, as stored in ``dq_check`` and printed."""

    name: str
    severity: Severity
    passed: bool
    observed: float | None
    threshold: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _at_most(
    name: str, severity: Severity, observed: float, threshold: float, message: str
) -> CheckResult:
    return CheckResult(name, severity, observed <= threshold, observed, threshold, message)


def check_unique_keys(tables: Mapping[str, pl.DataFrame]) -> list[CheckResult]:
    """Every table's primary key identifies one row (hard)."""
    results = []
    for spec in TRANSFORM_TABLES:
        frame = tables[spec.name]
        key = list(spec.primary_key)
        repeated = frame.select(key).filter(pl.struct(key).is_duplicated()).unique()
        example = f", e.g. {repeated.head(3).rows()}" if repeated.height else ""
        results.append(
            _at_most(
                f"unique key {spec.name}",
                "hard",
                repeated.height,
                0,
                f"{repeated.height} repeated {tuple(key)} key(s) in {frame.height} rows{example}",
            )
        )
    return results


def _missing_references(
    frame: pl.DataFrame, ref: Reference, dimension: pl.DataFrame
) -> pl.DataFrame:
    """Distinct key values of ``frame`` that ``dimension`` lacks."""
    if ref.by_day:
        keys = frame.select(pl.col(ref.columns[0]).dt.date().alias("date")).unique()
        return keys.join(dimension.select("date"), on="date", how="anti")
    keys = frame.select(ref.columns).unique()
    return keys.join(
        dimension.select(ref.columns), on=list(ref.columns), how="anti", nulls_equal=False
    )


def check_references(
    tables: Mapping[str, pl.DataFrame], dimensions: Mapping[str, pl.DataFrame]
) -> list[CheckResult]:
    """Every fact, label and mart row refers to existing dimension rows (hard).

    ``dimensions`` are the dimension keys as the warehouse holds them after the
    load, so rows of vehicles loaded earlier count as well.
    """
    results = []
    for spec in TRANSFORM_TABLES:
        for ref in references(spec):
            missing = _missing_references(tables[spec.name], ref, dimensions[ref.dimension])
            via = "the day of " + ref.columns[0] if ref.by_day else " + ".join(ref.columns)
            example = f", e.g. {missing.head(3).rows()}" if missing.height else ""
            results.append(
                _at_most(
                    f"reference {spec.name} → {ref.dimension}",
                    "hard",
                    missing.height,
                    0,
                    f"{missing.height} value(s) of {via} in {spec.name} have no row in "
                    f"{ref.dimension}{example}",
                )
            )
    return results


def _out_of_range(frame: pl.DataFrame, columns: list[str], low: float, high: float) -> int:
    """Rows with a non-null value of any of ``columns`` outside [low, high]."""
    if not columns:
        return 0
    outside = pl.any_horizontal(
        (~pl.col(c).is_between(low, high)).fill_null(False) for c in columns
    )
    return frame.filter(outside).height


def check_value_ranges(tables: Mapping[str, pl.DataFrame]) -> list[CheckResult]:
    """Values lie in their domain (hard): status codes, rates, margins, durations, counts."""
    results = []
    facts = tables["fact_test_result"]
    bad_status = facts.filter(
        ~pl.col("status").is_in(sorted(RESULT_STATUSES))
        | (pl.col("is_nok") != (pl.col("status") == 13))
    ).height
    results.append(
        _at_most(
            "range result status",
            "hard",
            bad_status,
            0,
            f"{bad_status} result(s) with a status other than 10/13 or a NOK flag that "
            "contradicts it",
        )
    )
    features = tables["mart_vehicle_features"]
    names = features.columns
    domains = (
        ("rates", [c for c in names if c.endswith("_rate")], 0.0, 1.0),
        ("margins", [c for c in names if c.startswith("min_margin")], 0.0, 0.5),
        (
            "durations",
            [c for c in names if c.startswith("dwell_") or c in ("line_time_s", "span_s")],
            0.0,
            float("inf"),
        ),
    )
    for label, columns, low, high in domains:
        bad = _out_of_range(features, columns, low, high)
        results.append(
            _at_most(
                f"range feature {label}",
                "hard",
                bad,
                0,
                f"{bad} vehicle(s) with {label} outside [{low}, {high}] "
                f"in {len(columns)} column(s)",
            )
        )
    negative = sum(
        _out_of_range(
            tables[spec.name], [c for c in spec.column_names if c.startswith("n_")], 0, float("inf")
        )
        for spec in TRANSFORM_TABLES
    )
    results.append(
        _at_most("range counts", "hard", negative, 0, f"{negative} row(s) with a negative count")
    )
    return results


def check_zone_chains(tables: Mapping[str, pl.DataFrame]) -> list[CheckResult]:
    """Incomplete zone chains and negative gaps stay near their usual share (soft)."""
    vehicles = tables["dim_vehicle"].filter(pl.col("reached_road_test"))
    broken = vehicles.filter(~pl.col("has_complete_chain")).height
    share = broken / vehicles.height if vehicles.height else 0.0
    passages = tables["fact_zone_passage"].filter(pl.col("gap_seconds").is_not_null())
    negative = passages.filter(pl.col("is_negative_gap")).height
    negative_share = negative / passages.height if passages.height else 0.0
    return [
        _at_most(
            "broken zone chain share",
            "soft",
            share,
            MAX_BROKEN_CHAIN_SHARE,
            f"{broken} of {vehicles.height} road-tested vehicle(s) lack a complete ZP5→ZP7 "
            f"chain ({share:.1%})",
        ),
        _at_most(
            "negative gap share",
            "soft",
            negative_share,
            MAX_NEGATIVE_GAP_SHARE,
            f"{negative} of {passages.height} zone gap(s) are negative ({negative_share:.1%})",
        ),
    ]


def check_labels(tables: Mapping[str, pl.DataFrame]) -> list[CheckResult]:
    """Exactly the vehicles that reached the road test are labelled (hard); failure rate (soft)."""
    vehicles = tables["dim_vehicle"]
    labels = tables["vehicle_label"]
    reached = vehicles.filter(pl.col("reached_road_test")).select("knr")
    unlabelled = reached.join(labels.select("knr"), on="knr", how="anti").height
    premature = labels.select("knr").join(reached, on="knr", how="anti").height
    flag_mismatch = vehicles.filter(pl.col("labelled") != pl.col("reached_road_test")).height
    failed = labels.filter(pl.col("road_test_failed")).height
    share = labels.height / vehicles.height if vehicles.height else 0.0
    rate = failed / labels.height if labels.height else 0.0
    inconsistent = unlabelled + premature + flag_mismatch
    return [
        CheckResult(
            "labelled share",
            "hard",
            inconsistent == 0,
            share,
            None,
            f"{labels.height} of {vehicles.height} vehicle(s) labelled ({share:.1%}); "
            f"{unlabelled} reached the road test without a label, {premature} labelled "
            f"without reaching it, {flag_mismatch} with a contradicting labelled flag",
        ),
        _at_most(
            "road-test failure rate",
            "soft",
            rate,
            MAX_FAILURE_RATE,
            f"{failed} of {labels.height} labelled vehicle(s) failed the road test ({rate:.1%})",
        ),
    ]


def _normalised_key(column: str) -> pl.Expr:
    """A bronze key column as the cleaning compares it: trimmed, codes upper-cased, no nulls."""
    if column == "DATA":
        return pl.col(column)
    expr = pl.col(column).str.strip_chars()
    if column in ("HALLE", "STATUS"):
        expr = expr.str.to_uppercase()
    return expr.fill_null("") if column == "VALUE_ID" else expr


def check_counts_reconcile(
    tables: Mapping[str, pl.DataFrame], bronze: Mapping[SourceTable, pl.DataFrame]
) -> list[CheckResult]:
    """Every bronze row of the loaded vehicles is a fact row or a dropped duplicate (hard).

    A fact row stands for all bronze rows with the same key (exact duplicates,
    repeats across exports, superseded corrections), so the fact table must hold
    exactly one row per distinct key; any other difference is a row lost or invented.
    """
    results = []
    for source, (fact_name, key) in _FACT_KEYS.items():
        rows = bronze[source]
        expected = rows.select(_normalised_key(c) for c in key).unique().height
        loaded = tables[fact_name].height
        unaccounted = abs(expected - loaded)
        results.append(
            _at_most(
                f"counts reconcile {source.value}",
                "hard",
                unaccounted,
                0,
                f"{rows.height} bronze row(s) → {loaded} {fact_name} row(s) + "
                f"{rows.height - expected} duplicate(s) or superseded correction(s); "
                f"{unaccounted} unaccounted",
            )
        )
    vehicles = pl.concat([frame.select("KNR") for frame in bronze.values()]).unique().height
    missing = abs(vehicles - tables["dim_vehicle"].height)
    results.append(
        _at_most(
            "counts reconcile vehicles",
            "hard",
            missing,
            0,
            f"{vehicles} vehicle(s) in bronze → {tables['dim_vehicle'].height} dim_vehicle row(s)",
        )
    )
    return results


def check_load(
    tables: Mapping[str, pl.DataFrame], bronze: Mapping[SourceTable, pl.DataFrame]
) -> list[CheckResult]:
    """All checks that need only the frames of this load (run before writing)."""
    return [
        *check_unique_keys(tables),
        *check_value_ranges(tables),
        *check_labels(tables),
        *check_zone_chains(tables),
        *check_counts_reconcile(tables, bronze),
    ]


def hard_failures(results: list[CheckResult]) -> list[CheckResult]:
    """The failed hard checks, which stop a load."""
    return [r for r in results if r.severity == "hard" and not r.passed]
