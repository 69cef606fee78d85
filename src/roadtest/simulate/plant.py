"""Simulate a plant: the three exports in export form and each vehicle's ground truth.

The steps follow the plant: vehicles and their passages, the line's tests and
defects, the true outcome from the mechanisms, the road-test inspection (which
misses some failures), what happens after the road test, and finally the
export snapshot: every row after the export time is cut, and the known defects
of real exports are put in. Every random draw comes from a numpy Generator
seeded by ``(seed, step)``, so a step's draws do not shift when another changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
from numpy.typing import NDArray

from roadtest.contracts.partner import PARTNER_COLUMNS, SourceTable
from roadtest.simulate.clock import LineClock, build_clock
from roadtest.simulate.config import PlantConfig
from roadtest.simulate.defects import (
    DefectRows,
    draw_after_road_test_defects,
    draw_line_defects,
    draw_road_test_defects,
    format_defects,
)
from roadtest.simulate.layout import (
    AGUA_ZONE,
    INSPECTORS_PER_HALLE,
    ROD_ZONE,
    SEGMENT_MINUTES,
    ZP8_ZONE,
    PlantLayout,
    build_layout,
)
from roadtest.simulate.mechanisms import (
    DWELL_FROM,
    DWELL_TO,
    Outcome,
    collect_risks,
    decide_outcome,
)
from roadtest.simulate.results import (
    ResultRows,
    TestOutcome,
    format_results,
    run_line_tests,
    run_section_checks,
)
from roadtest.simulate.status import status_rows
from roadtest.simulate.vehicles import Vehicles, draw_passages, draw_vehicles

STEPS = (
    "vehicles",
    "passages",
    "clock",
    "tests",
    "line_defects",
    "outcome",
    "inspection",
    "after_road_test",
    "formatting",
    "status",
    "quirks",
)
SLOPPY_INSPECTORS = 4
SLOPPY_FACTOR = 3.0
"""Of the 16 road-test inspectors, 4 miss failures three times as often as the others."""
HALLE_SPACE_SHARE = 0.03
FALHA_TITLE_SHARE, FALHA_LOWER_SHARE, FALHA_SPACE_SHARE = 0.10, 0.06, 0.02
JUNK_GROUPS = ("#MULTIVALUE", "-2", None)
JUNK_GROUP_SHARES = (0.6, 0.25, 0.15)


@dataclass(frozen=True)
class SimulatedPlant:
    """The three exports (export form, partner columns) and the ground truth."""

    resultados: pl.DataFrame
    falhas: pl.DataFrame
    status: pl.DataFrame
    truth: pl.DataFrame
    config: PlantConfig
    export_time: datetime
    """The snapshot moment: no exported row is later."""
    drift_date: datetime
    """When the battery-voltage mechanism changes."""

    def tables(self) -> dict[SourceTable, pl.DataFrame]:
        """The exports by table."""
        return {
            SourceTable.RESULTADOS: self.resultados,
            SourceTable.FALHAS: self.falhas,
            SourceTable.STATUS: self.status,
        }


def step_rng(seed: int, step: str) -> np.random.Generator:
    """The Generator of one simulation step."""
    return np.random.default_rng([seed, STEPS.index(step)])


@dataclass(frozen=True)
class Line:
    """The vehicles, when they pass each zone, and the export moment."""

    vehicles: Vehicles
    passages: NDArray[np.float64]
    """Line time of each zone entry (vehicles x zones + 1)."""
    clock: LineClock
    calendar: NDArray[np.float64]
    """The passages in calendar seconds."""
    cutoff: float
    """Export moment, calendar seconds."""
    drift: float
    """Drift date, calendar seconds."""
    reaches: NDArray[np.bool_]
    """Whose road test is over at the export moment."""


@dataclass(frozen=True)
class Judgement:
    """The true outcome and what the road test recorded of it."""

    outcome: Outcome
    inspector: NDArray[np.int64]
    failed: NDArray[np.bool_]


def simulate_plant(config: PlantConfig) -> SimulatedPlant:
    """Simulate ``config.vehicles`` vehicles; the same config always gives the same plant."""
    layout = build_layout(config.rows_per_vehicle)
    line = run_line(config)
    tests = run_line_tests(
        line.vehicles,
        layout.programs,
        line.passages,
        config.late_rework_share,
        step_rng(config.seed, "tests"),
    )
    line_defects = draw_line_defects(
        config.vehicles, line.passages, step_rng(config.seed, "line_defects")
    )
    judgement = judge_vehicles(config, layout, line, tests, line_defects)
    tables = export_tables(config, layout, line, tests, line_defects, judgement)
    return SimulatedPlant(
        resultados=tables[SourceTable.RESULTADOS],
        falhas=tables[SourceTable.FALHAS],
        status=tables[SourceTable.STATUS],
        truth=build_truth(line, judgement),
        config=config,
        export_time=line.clock.to_datetime(line.cutoff),
        drift_date=line.clock.to_datetime(np.floor(line.drift)),
    )


def run_line(config: PlantConfig) -> Line:
    """Vehicles, their passages in line and calendar time, the export moment, the drift date."""
    vehicles = draw_vehicles(config.vehicles, config.start, step_rng(config.seed, "vehicles"))
    passages = draw_passages(
        config.vehicles, config.takt_seconds, step_rng(config.seed, "passages")
    )
    clock = build_clock(
        config.start,
        config.shifts_per_day,
        config.line_stops_per_day,
        float(passages.max()),
        step_rng(config.seed, "clock"),
    )
    calendar = clock.to_calendar(passages)
    cutoff = export_cutoff(passages, calendar, clock, config.pending_share)
    first_entry = float(calendar[:, 0].min())
    return Line(
        vehicles=vehicles,
        passages=passages,
        clock=clock,
        calendar=calendar,
        cutoff=cutoff,
        drift=first_entry + config.drift_at * (cutoff - first_entry),
        reaches=calendar[:, AGUA_ZONE] <= cutoff,
    )


def judge_vehicles(
    config: PlantConfig,
    layout: PlantLayout,
    line: Line,
    tests: TestOutcome,
    line_defects: DefectRows,
) -> Judgement:
    """The true outcome from the mechanisms, then the road test's (imperfect) record of it."""
    outcome_rng = step_rng(config.seed, "outcome")
    risks = collect_risks(
        line.vehicles.model,
        line.vehicles.engine,
        tests,
        layout.programs,
        line_defects,
        (line.calendar[:, DWELL_TO] - line.calendar[:, DWELL_FROM]) / 3600.0,
        line.clock.to_calendar(tests.voltage_line_time) >= line.drift,
        outcome_rng,
    )
    outcome = decide_outcome(risks, config.vehicles, outcome_rng)
    inspector, missed = inspect_road_test(
        outcome.failed_truly, config.inspector_miss_rate, step_rng(config.seed, "inspection")
    )
    return Judgement(outcome, inspector, outcome.failed_truly & line.reaches & ~missed)


def export_tables(
    config: PlantConfig,
    layout: PlantLayout,
    line: Line,
    tests: TestOutcome,
    line_defects: DefectRows,
    judgement: Judgement,
) -> dict[SourceTable, pl.DataFrame]:
    """The three exports: everything after the road test added, quirks in, cut at export time."""
    after_rng = step_rng(config.seed, "after_road_test")
    failed_truly = judgement.outcome.failed_truly
    group_vehicle = judgement.outcome.groups["vehicle"].to_numpy()
    group = judgement.outcome.groups["group"].to_numpy()
    recorded = judgement.failed[group_vehicle]
    defects = DefectRows.concat(
        [
            line_defects,
            draw_road_test_defects(
                group_vehicle[recorded],
                group[recorded],
                judgement.inspector,
                line.passages,
                after_rng,
            ),
            draw_after_road_test_defects(
                failed_truly, judgement.failed, group_vehicle, group, line.passages, after_rng
            ),
        ]
    )
    section = run_section_checks(layout.programs, line.passages, ZP8_ZONE, failed_truly, after_rng)
    results = ResultRows.concat([tests.rows, section])
    format_rng = step_rng(config.seed, "formatting")
    to_calendar = line.clock.to_calendar
    raw_tables = {
        SourceTable.RESULTADOS: format_results(
            results, layout.programs, line.vehicles.knr, to_calendar(results.line_time)
        ),
        SourceTable.FALHAS: defect_quirks(
            format_defects(
                defects, layout, line.vehicles, to_calendar(defects.line_time), format_rng
            ),
            config.junk_group_share,
            format_rng,
        ),
        SourceTable.STATUS: status_rows(
            line.passages,
            line.clock,
            line.reaches,
            layout,
            line.vehicles.knr,
            (config.missing_chain_share, config.negative_gap_share),
            step_rng(config.seed, "status"),
        ),
    }
    quirk_rng = step_rng(config.seed, "quirks")
    return {
        table: finish_table(table, frame, line, config.duplicate_share, quirk_rng)
        for table, frame in raw_tables.items()
    }


def export_cutoff(
    passages: NDArray[np.float64],
    calendar: NDArray[np.float64],
    clock: LineClock,
    pending_share: float,
) -> float:
    """The export moment: ``pending_share`` of vehicles have not finished the road test.

    It is never before the last vehicle has spent its nominal time in ZP5, so
    every vehicle has rows to score; when ``pending_share`` is more than the
    share of vehicles on the line at that moment, fewer are pending than asked.
    """
    wanted = float(np.quantile(calendar[:, AGUA_ZONE], 1.0 - pending_share))
    last_in_zp5 = passages[:, 0].max() + SEGMENT_MINUTES[0] * 60.0
    earliest = float(clock.to_calendar(np.array([last_in_zp5]))[0])
    return float(np.floor(max(wanted, earliest)))


def inspect_road_test(
    failed_truly: NDArray[np.bool_], miss_rate: float, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Each vehicle's road-test inspector, and which true failures they did not record."""
    staff = INSPECTORS_PER_HALLE["ROD"]
    factor = np.ones(staff)
    factor[-SLOPPY_INSPECTORS:] = SLOPPY_FACTOR
    miss = miss_rate * factor / factor.mean()
    inspector = rng.integers(0, staff, len(failed_truly))
    missed = failed_truly & (rng.random(len(failed_truly)) < miss[inspector])
    return inspector, missed


def defect_quirks(frame: pl.DataFrame, junk_share: float, rng: np.random.Generator) -> pl.DataFrame:
    """Stray spaces in HALLE and FALHA, mixed-case FALHA texts, junk S_GROUP_IDs."""
    size = frame.height
    case = rng.random(size)
    junk = rng.random(size) < junk_share
    junk_value = pl.Series(
        rng.choice(len(JUNK_GROUPS), size=size, p=JUNK_GROUP_SHARES), dtype=pl.Int64
    )
    spaces = pl.Series(np.where(rng.random(size) < 0.5, " ", "  "))
    flags = pl.DataFrame(
        {
            "halle_space": rng.random(size) < HALLE_SPACE_SHARE,
            "title": case < FALHA_TITLE_SHARE,
            "lower": (case >= FALHA_TITLE_SHARE) & (case < FALHA_TITLE_SHARE + FALHA_LOWER_SHARE),
            "falha_space": rng.random(size) < FALHA_SPACE_SHARE,
            "junk": junk,
            "junk_value": junk_value.replace_strict(
                dict(enumerate(JUNK_GROUPS)), return_dtype=pl.String
            ),
            "spaces": spaces,
        }
    )
    falha = (
        pl.when("title")
        .then(pl.col("FALHA").str.to_titlecase())
        .when("lower")
        .then(pl.col("FALHA").str.to_lowercase())
        .otherwise(pl.col("FALHA"))
    )
    return (
        pl.concat([frame, flags], how="horizontal")
        .with_columns(
            HALLE=pl.when("halle_space")
            .then(pl.col("HALLE") + pl.col("spaces"))
            .otherwise(pl.col("HALLE")),
            FALHA=pl.when("falha_space").then(falha + " ").otherwise(falha),
            S_GROUP_ID=pl.when("junk").then(pl.col("junk_value")).otherwise(pl.col("S_GROUP_ID")),
        )
        .drop(flags.columns)
    )


def finish_table(
    table: SourceTable,
    frame: pl.DataFrame,
    line: Line,
    duplicate_share: float,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Cut at the export time, duplicate a few rows, stamp DATA, sort as an export is sorted.

    Rows are ordered by DATA; rows sharing a timestamp (one posted batch) come
    in random order, as the partner's exports do.
    """
    kept = frame.filter(pl.col("_seconds") <= line.cutoff)
    doubled = kept.filter(pl.Series(rng.random(kept.height) < duplicate_share))
    rows = pl.concat([kept, doubled])
    return (
        rows.with_columns(
            DATA=(pl.col("_seconds").cast(pl.Int64) * 1_000_000 + line.clock.origin_us).cast(
                pl.Datetime("us")
            ),
            _tie=pl.Series(rng.permutation(rows.height)),
        )
        .sort("DATA", "_tie")
        .select(PARTNER_COLUMNS[table])
    )


def pairs_to_lists(pairs: pl.DataFrame, value: str, count: int, dtype: pl.DataType) -> pl.Series:
    """Per vehicle, the sorted values of its (vehicle, value) pairs; empty list when none."""
    lists = pairs.group_by("vehicle").agg(pl.col(value).sort())
    return (
        pl.DataFrame({"vehicle": np.arange(count)})
        .join(lists, on="vehicle", how="left")
        .sort("vehicle")
        .select(pl.col(value).fill_null(pl.lit([], dtype=pl.List(dtype))))
        .to_series()
    )


def build_truth(line: Line, judgement: Judgement) -> pl.DataFrame:
    """One row per KNR: true probability, outcomes, groups, mechanisms, road-test start."""
    outcome, count = judgement.outcome, line.vehicles.count
    road_test = np.floor(line.calendar[:, ROD_ZONE]).astype(np.int64)
    start_us = road_test * 1_000_000 + line.clock.origin_us
    return pl.DataFrame(
        {
            "KNR": line.vehicles.knr,
            "p_fail": outcome.p_fail,
            "failed": judgement.failed,
            "failed_truly": outcome.failed_truly,
            "groups": pairs_to_lists(outcome.groups, "group", count, pl.Int64()),
            "mechanisms": pairs_to_lists(outcome.causes, "mechanism", count, pl.String()),
            "reaches_road_test": line.reaches,
            "road_test_start": pl.Series(start_us).cast(pl.Datetime("us")),
            "risk_factors": pairs_to_lists(outcome.risk_factors, "mechanism", count, pl.String()),
        }
    ).with_columns(
        road_test_start=pl.when("reaches_road_test").then(pl.col("road_test_start")),
    )
