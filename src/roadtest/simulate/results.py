"""RESULTADOS: every vehicle's test programs, NOK results and their rework retests.

Generation is column-wise: a (vehicle x program) applicability matrix gives the
program runs, each run expands to its sub-results with ``np.repeat``, and
values are drawn around the nominal value at once. A run with a value outside
its spec window (NOK) is repeated later with every value in spec: usually while
the vehicle is still in the zone, sometimes after it has moved on to the next
one — the order the sequence mechanism is about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from roadtest.contracts.partner import RESULT_STATUS_NOK, RESULT_STATUS_OK
from roadtest.simulate.layout import LAST_PRE_ROAD_ZONE, SEGMENT_MINUTES, ProgramTable
from roadtest.simulate.vehicles import Vehicles

FUNCTIONAL_NOK_SHARE = 0.003
"""Chance that a pass/fail check without a value (empty UNIT and VALUE) reports NOK."""
RETEST_SPREAD = 2.4
"""Retest values are drawn within +-2.4 sd of nominal, so a rework always ends OK."""
POSTING_PERIOD_S: dict[int, float] = {1: 300.0, 2: 120.0, 718: 60.0}
"""Each result group's controllers post to the system in batches this many seconds apart."""
SECTION_NOK_SHARE = {True: 0.25, False: 0.02}
"""Chance a ZP8 check is NOK for a vehicle that truly failed the road test, or not."""


@dataclass(frozen=True)
class ResultRows:
    """RESULTADOS rows before formatting, one entry per row."""

    vehicle: NDArray[np.int64]
    sub: NDArray[np.int64]
    value: NDArray[np.float64]
    nok: NDArray[np.bool_]
    line_time: NDArray[np.float64]

    @staticmethod
    def concat(parts: list[ResultRows]) -> ResultRows:
        """All rows of ``parts`` in one set."""
        return ResultRows(
            vehicle=np.concatenate([p.vehicle for p in parts]),
            sub=np.concatenate([p.sub for p in parts]),
            value=np.concatenate([p.value for p in parts]),
            nok=np.concatenate([p.nok for p in parts]),
            line_time=np.concatenate([p.line_time for p in parts]),
        )


@dataclass(frozen=True)
class Reworks:
    """One entry per NOK program run: who, which program, and where the retest happened."""

    vehicle: NDArray[np.int64]
    program: NDArray[np.int64]
    late: NDArray[np.bool_]


@dataclass(frozen=True)
class TestOutcome:
    """The rows of the line's test programs and what the mechanisms read from them."""

    rows: ResultRows
    reworks: Reworks
    torque_margin: NDArray[np.float64]
    """Per vehicle: smallest distance of a final key torque to its spec limit, share of window."""
    torque_location: NDArray[np.int64]
    """Per vehicle: failure group of the program holding that torque."""
    voltage_position: NDArray[np.float64]
    """Per vehicle: final battery voltage as a position in its spec window (0 = lower limit)."""
    voltage_line_time: NDArray[np.float64]
    """Per vehicle: line time of the final battery voltage test."""


def run_line_tests(
    vehicles: Vehicles,
    programs: ProgramTable,
    passages: NDArray[np.float64],
    late_share: float,
    rng: np.random.Generator,
) -> TestOutcome:
    """First runs of every applicable program, plus a retest of each NOK run."""
    line_programs = np.flatnonzero(~programs.section)
    applies = (
        (vehicles.trim[:, None] >= programs.min_trim[line_programs][None, :])
        & programs.engine_ok[line_programs][:, vehicles.engine].T
        & (rng.random((vehicles.count, len(line_programs))) < programs.p_apply[line_programs])
    )
    vehicle, column = np.nonzero(applies)
    program = line_programs[column]
    zone = programs.zone[program]
    nominal = SEGMENT_MINUTES[zone] * 60.0
    jitter = rng.uniform(0.0, 0.02, len(zone))
    start = passages[vehicle, zone] + (programs.offset[program] + jitter) * nominal
    first = expand_runs(programs, vehicle, program, start, rng.standard_normal, rng)
    run_of_row = np.repeat(np.arange(len(program)), programs.n_sub[program])
    nok_run = np.bincount(run_of_row, weights=first.nok, minlength=len(program)) > 0
    redo = np.flatnonzero(nok_run)
    late = (zone[redo] < LAST_PRE_ROAD_ZONE) & (rng.random(len(redo)) < late_share)
    next_entry = passages[vehicle[redo], zone[redo] + 1]
    late_time = next_entry + rng.uniform(0.05, 0.7, len(redo)) * (
        SEGMENT_MINUTES[np.minimum(zone[redo] + 1, LAST_PRE_ROAD_ZONE)] * 60.0
    )
    in_zone_time = start[redo] + rng.uniform(0.1, 0.7, len(redo)) * (next_entry - start[redo])
    retest = expand_runs(
        programs,
        vehicle[redo],
        program[redo],
        np.where(late, late_time, in_zone_time),
        lambda size: np.clip(rng.standard_normal(size), -RETEST_SPREAD, RETEST_SPREAD),
        rng,
        functional_nok_share=0.0,
    )
    final = select_final(first, retest, ~nok_run[run_of_row])
    margin, location = torque_margins(programs, final, vehicles.count)
    position, voltage_time = voltage_positions(programs, final, vehicles.count)
    return TestOutcome(
        rows=ResultRows.concat([first, retest]),
        reworks=Reworks(vehicle[redo], program[redo], late),
        torque_margin=margin,
        torque_location=location,
        voltage_position=position,
        voltage_line_time=voltage_time,
    )


def expand_runs(
    programs: ProgramTable,
    vehicle: NDArray[np.int64],
    program: NDArray[np.int64],
    line_time: NDArray[np.float64],
    draw_z: Callable[[int], NDArray[np.float64]],
    rng: np.random.Generator,
    functional_nok_share: float = FUNCTIONAL_NOK_SHARE,
) -> ResultRows:
    """One row per sub-result of each run, values drawn as nominal + sd * z.

    Values are rounded to what the export shows before the spec check, so a
    row's STATUS always agrees with its VALUE.
    """
    n_sub = programs.n_sub[program]
    run_of_row = np.repeat(np.arange(len(program)), n_sub)
    first_row = np.cumsum(n_sub) - n_sub
    within_run = np.arange(len(run_of_row)) - first_row[run_of_row]
    sub = programs.sub_start[program][run_of_row] + within_run
    raw = programs.sub_nominal[sub] + programs.sub_sd[sub] * draw_z(len(sub))
    scale = 10.0 ** programs.sub_decimals[sub]
    value = np.round(raw * scale) / scale
    functional = programs.sub_functional[sub]
    out_of_spec = (value < programs.sub_lo[sub]) | (value > programs.sub_hi[sub])
    functional_nok = rng.random(len(sub)) < functional_nok_share
    return ResultRows(
        vehicle=vehicle[run_of_row],
        sub=sub,
        value=np.where(functional, np.nan, value),
        nok=np.where(functional, functional_nok, out_of_spec),
        line_time=line_time[run_of_row],
    )


def select_final(first: ResultRows, retest: ResultRows, keep: NDArray[np.bool_]) -> ResultRows:
    """The value each vehicle left the zone with: the retest where there was one."""
    kept = ResultRows(
        vehicle=first.vehicle[keep],
        sub=first.sub[keep],
        value=first.value[keep],
        nok=first.nok[keep],
        line_time=first.line_time[keep],
    )
    return ResultRows.concat([kept, retest])


def torque_margins(
    programs: ProgramTable, final: ResultRows, vehicles: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per vehicle, the key torque closest to a spec limit: its margin and its group."""
    rows = np.flatnonzero(programs.sub_torque_key[final.sub])
    sub = final.sub[rows]
    low, high = programs.sub_lo[sub], programs.sub_hi[sub]
    value = final.value[rows]
    margin = np.minimum(value - low, high - value) / (high - low)
    vehicle = final.vehicle[rows]
    order = np.lexsort((margin, vehicle))
    is_first = np.r_[True, vehicle[order][1:] != vehicle[order][:-1]]
    closest = order[is_first]
    best_margin = np.full(vehicles, 0.5)
    best_location = np.zeros(vehicles, dtype=np.int64)
    best_margin[vehicle[closest]] = margin[closest]
    best_location[vehicle[closest]] = programs.location[programs.sub_program[sub[closest]]]
    return best_margin, best_location


def voltage_positions(
    programs: ProgramTable, final: ResultRows, vehicles: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per vehicle, the final battery voltage's place in its window and when it was taken."""
    rows = np.flatnonzero(programs.sub_voltage_key[final.sub])
    sub = final.sub[rows]
    position = np.full(vehicles, 0.5)
    line_time = np.zeros(vehicles)
    low, high = programs.sub_lo[sub], programs.sub_hi[sub]
    position[final.vehicle[rows]] = (final.value[rows] - low) / (high - low)
    line_time[final.vehicle[rows]] = final.line_time[rows]
    return position, line_time


def run_section_checks(
    programs: ProgramTable,
    passages: NDArray[np.float64],
    zone: int,
    failed_truly: NDArray[np.bool_],
    rng: np.random.Generator,
) -> ResultRows:
    """The ZP8 checks after the road test; NOK far more often on truly failing vehicles."""
    section = np.flatnonzero(programs.section)
    vehicles = len(failed_truly)
    vehicle = np.repeat(np.arange(vehicles), len(section))
    program = np.tile(section, vehicles)
    offset = programs.offset[program] + rng.uniform(0.0, 0.05, len(program))
    line_time = passages[vehicle, zone] + offset * SEGMENT_MINUTES[zone] * 60.0
    rows = expand_runs(
        programs,
        vehicle,
        program,
        line_time,
        lambda size: np.clip(rng.standard_normal(size), -RETEST_SPREAD, RETEST_SPREAD),
        rng,
        functional_nok_share=0.0,
    )
    nok_share = np.where(failed_truly, SECTION_NOK_SHARE[True], SECTION_NOK_SHARE[False])
    nok_run = rng.random(len(program)) < nok_share[vehicle]
    first_rows = (np.cumsum(programs.n_sub[program]) - programs.n_sub[program])[nok_run]
    sub = rows.sub[first_rows]
    beyond = programs.sub_sd[sub] * rng.uniform(0.5, 2.0, len(sub))
    high_side = rng.random(len(sub)) < 0.5
    outside = np.where(high_side, programs.sub_hi[sub] + beyond, programs.sub_lo[sub] - beyond)
    scale = 10.0 ** programs.sub_decimals[sub]
    value, nok = rows.value.copy(), rows.nok.copy()
    value[first_rows] = np.where(
        programs.sub_functional[sub], np.nan, np.round(outside * scale) / scale
    )
    nok[first_rows] = True
    return ResultRows(rows.vehicle, rows.sub, value, nok, rows.line_time)


def format_results(
    rows: ResultRows, programs: ProgramTable, knr: pl.Series, calendar: NDArray[np.float64]
) -> pl.DataFrame:
    """RESULTADOS in export form; DATA is when the row's batch was posted.

    ``calendar`` holds each row's measurement time in calendar seconds; posting
    rounds it up to its result group's batch period, so many rows share it.
    """
    program = programs.sub_program[rows.sub]
    id_group = programs.id_group[program]
    period = np.select(
        [id_group == group for group in POSTING_PERIOD_S], list(POSTING_PERIOD_S.values())
    )
    posted = np.ceil(calendar / period) * period
    values = pl.DataFrame(
        {"v": rows.value, "decimals": programs.sub_decimals[rows.sub]},
        schema={"v": pl.Float64, "decimals": pl.Int64},
    )
    value_text = values.select(
        pl.when(pl.col("v").is_nan())
        .then(pl.lit(""))
        .when(pl.col("decimals") == 0)
        .then(pl.col("v").fill_nan(0.0).cast(pl.Int64).cast(pl.String))
        .otherwise(pl.col("v").cast(pl.String))
    ).to_series()
    return pl.DataFrame(
        {
            "KNR": knr.gather(rows.vehicle),
            "NAME": pl.Series(programs.names).gather(program),
            "ID": pl.Series(id_group, dtype=pl.Int64),
            "STATUS": pl.Series(
                np.where(rows.nok, RESULT_STATUS_NOK, RESULT_STATUS_OK), dtype=pl.Int64
            ),
            "UNIT": pl.Series(programs.sub_unit).gather(rows.sub),
            "VALUE_ID": pl.Series(programs.sub_value_id).gather(rows.sub),
            "VALUE": value_text,
            "_seconds": posted,
        }
    )
