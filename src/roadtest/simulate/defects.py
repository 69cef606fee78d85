"""FALHAS: defects inspectors log, on the line, at the road test and after it.

Each defect is a part (which fixes its failure group), a position number and a
defect kind, logged at a HALLE by one of that HALLE's stations and inspectors
while the vehicle passes the zone. Line defects are drawn before the outcome
(they drive a mechanism); road-test, water-test and ZP8 defects after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from roadtest.simulate.layout import (
    DEFECT_HALLE_ZONE,
    LINE_DEFECTS,
    LINE_SEVERE_SHARE,
    PART_GROUPS,
    PARTS,
    POSITION_WEIGHTS,
    PRE_ROAD_HALLE_SHARES,
    ROAD_TEST_DEFECTS,
    SEGMENT_MINUTES,
    WATER_TEST_DEFECTS,
    WATER_TEST_GROUPS,
    PlantLayout,
)
from roadtest.simulate.vehicles import Vehicles

HALLES: tuple[str, ...] = tuple(DEFECT_HALLE_ZONE)
HALLE_ZONE = np.array(list(DEFECT_HALLE_ZONE.values()), dtype=np.int64)
KINDS: tuple[str, ...] = tuple(
    dict.fromkeys([kind for kind, _ in LINE_DEFECTS] + [*ROAD_TEST_DEFECTS, *WATER_TEST_DEFECTS])
)
MINOR_KINDS = np.array([KINDS.index(k) for k, severe in LINE_DEFECTS if not severe])
SEVERE_KINDS = np.array([KINDS.index(k) for k, severe in LINE_DEFECTS if severe])
ROAD_KINDS = np.array([KINDS.index(k) for k in ROAD_TEST_DEFECTS])
WATER_KINDS = np.array([KINDS.index(k) for k in WATER_TEST_DEFECTS])

LINE_DEFECTS_PER_VEHICLE = 1.2
"""Mean defects logged per vehicle in the pre-road-test HALLEs."""
ROD_SECOND_ROW_SHARE = 0.25
"""Chance that a failing group gets a second ROD row (another part of the same area)."""
WATER_DEFECT_SHARE = {True: 0.20, False: 0.04}
ZP8_COSMETIC_PER_VEHICLE = 0.35
ZP82_AUDIT_PER_VEHICLE = 0.08
ZP8R_REWORK_SHARE = {True: 0.7, False: 0.5}
"""Chance a true failure group shows up again at ZP8R: recorded at ROD, or missed there."""


@dataclass(frozen=True)
class DefectRows:
    """FALHAS rows before formatting, one entry per row."""

    vehicle: NDArray[np.int64]
    halle: NDArray[np.int64]
    part: NDArray[np.int64]
    kind: NDArray[np.int64]
    line_time: NDArray[np.float64]
    inspector: NDArray[np.int64]
    """Index into the HALLE's inspectors; -1 draws one at formatting."""

    @property
    def group(self) -> NDArray[np.int64]:
        """Failure group of each defect (from its part)."""
        return PART_GROUPS[self.part]

    @property
    def severe(self) -> NDArray[np.bool_]:
        """Whether the defect is of a kind that leaves a fault in the car."""
        return np.isin(self.kind, SEVERE_KINDS)

    @staticmethod
    def concat(parts: list[DefectRows]) -> DefectRows:
        """All rows of ``parts`` in one set."""
        return DefectRows(
            vehicle=np.concatenate([p.vehicle for p in parts]),
            halle=np.concatenate([p.halle for p in parts]),
            part=np.concatenate([p.part for p in parts]),
            kind=np.concatenate([p.kind for p in parts]),
            line_time=np.concatenate([p.line_time for p in parts]),
            inspector=np.concatenate([p.inspector for p in parts]),
        )


def log_time(
    passages: NDArray[np.float64],
    vehicle: NDArray[np.int64],
    halle: NDArray[np.int64],
    rng: np.random.Generator,
    window: tuple[float, float] = (0.1, 0.9),
) -> NDArray[np.float64]:
    """When an inspector in the HALLE's zone logs the defect (inside the zone's nominal time)."""
    zone = HALLE_ZONE[halle]
    share = rng.uniform(*window, len(vehicle))
    return passages[vehicle, zone] + share * SEGMENT_MINUTES[zone] * 60.0


def draw_line_defects(
    count: int, passages: NDArray[np.float64], rng: np.random.Generator
) -> DefectRows:
    """Defects found in ZP5…ZP7 and CAB; about a fifth of them are severe."""
    per_vehicle = rng.poisson(LINE_DEFECTS_PER_VEHICLE, count)
    vehicle = np.repeat(np.arange(count), per_vehicle)
    size = len(vehicle)
    halle = rng.choice(len(PRE_ROAD_HALLE_SHARES), size=size, p=PRE_ROAD_HALLE_SHARES)
    severe = rng.random(size) < LINE_SEVERE_SHARE
    kind = np.where(severe, rng.choice(SEVERE_KINDS, size=size), rng.choice(MINOR_KINDS, size=size))
    return DefectRows(
        vehicle=vehicle,
        halle=halle,
        part=rng.integers(0, len(PARTS), size),
        kind=kind,
        line_time=log_time(passages, vehicle, halle, rng),
        inspector=np.full(size, -1),
    )


def parts_of_groups(groups: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.int64]:
    """A random part belonging to each requested failure group."""
    order = np.argsort(PART_GROUPS, kind="stable")
    sorted_groups = PART_GROUPS[order]
    begin = np.searchsorted(sorted_groups, groups, side="left")
    end = np.searchsorted(sorted_groups, groups, side="right")
    pick = begin + np.floor(rng.random(len(groups)) * (end - begin)).astype(np.int64)
    return order[pick]


def draw_road_test_defects(
    vehicle: NDArray[np.int64],
    group: NDArray[np.int64],
    inspector: NDArray[np.int64],
    passages: NDArray[np.float64],
    rng: np.random.Generator,
) -> DefectRows:
    """ROD rows of recorded failures: one per failing group, sometimes two."""
    repeat = 1 + (rng.random(len(vehicle)) < ROD_SECOND_ROW_SHARE)
    vehicle, group = np.repeat(vehicle, repeat), np.repeat(group, repeat)
    halle = np.full(len(vehicle), HALLES.index("ROD"))
    return DefectRows(
        vehicle=vehicle,
        halle=halle,
        part=parts_of_groups(group, rng),
        kind=rng.choice(ROAD_KINDS, size=len(vehicle)),
        line_time=log_time(passages, vehicle, halle, rng, window=(0.1, 0.85)),
        inspector=inspector[vehicle],
    )


def draw_after_road_test_defects(
    failed_truly: NDArray[np.bool_],
    failed: NDArray[np.bool_],
    group_vehicle: NDArray[np.int64],
    group: NDArray[np.int64],
    passages: NDArray[np.float64],
    rng: np.random.Generator,
) -> DefectRows:
    """Water-test and ZP8 defects; both are more frequent on truly failing vehicles.

    ZP8R reworks the road-test findings (and catches some the road test
    missed), so these rows give the outcome away: they must never be features.
    """
    count = len(failed_truly)
    water_share = np.where(failed_truly, WATER_DEFECT_SHARE[True], WATER_DEFECT_SHARE[False])
    water_vehicle = np.flatnonzero(rng.random(count) < water_share)
    water_group = rng.choice(np.array(WATER_TEST_GROUPS), size=len(water_vehicle))
    cosmetic_vehicle = np.repeat(np.arange(count), rng.poisson(ZP8_COSMETIC_PER_VEHICLE, count))
    audit_vehicle = np.repeat(np.arange(count), rng.poisson(ZP82_AUDIT_PER_VEHICLE, count))
    rework_share = np.where(
        failed[group_vehicle], ZP8R_REWORK_SHARE[True], ZP8R_REWORK_SHARE[False]
    )
    reworked = rng.random(len(group_vehicle)) < rework_share
    parts = [
        defect_rows(
            water_vehicle, "AGUA", parts_of_groups(water_group, rng), WATER_KINDS, passages, rng
        ),
        defect_rows(
            cosmetic_vehicle,
            "ZP8",
            rng.integers(0, len(PARTS), len(cosmetic_vehicle)),
            MINOR_KINDS,
            passages,
            rng,
        ),
        defect_rows(
            audit_vehicle,
            "ZP82",
            rng.integers(0, len(PARTS), len(audit_vehicle)),
            MINOR_KINDS,
            passages,
            rng,
        ),
        defect_rows(
            group_vehicle[reworked],
            "ZP8R",
            parts_of_groups(group[reworked], rng),
            ROAD_KINDS,
            passages,
            rng,
        ),
    ]
    return DefectRows.concat(parts)


def defect_rows(
    vehicle: NDArray[np.int64],
    halle_name: str,
    part: NDArray[np.int64],
    kinds: NDArray[np.int64],
    passages: NDArray[np.float64],
    rng: np.random.Generator,
) -> DefectRows:
    """Defects of one HALLE for the given vehicles and parts, kinds drawn from ``kinds``."""
    halle = np.full(len(vehicle), HALLES.index(halle_name))
    return DefectRows(
        vehicle=vehicle,
        halle=halle,
        part=part,
        kind=rng.choice(kinds, size=len(vehicle)),
        line_time=log_time(passages, vehicle, halle, rng),
        inspector=np.full(len(vehicle), -1),
    )


def format_defects(
    rows: DefectRows,
    layout: PlantLayout,
    vehicles: Vehicles,
    calendar: NDArray[np.float64],
    rng: np.random.Generator,
) -> pl.DataFrame:
    """FALHAS in export form (before quirks), with each row's calendar second in ``_seconds``."""
    size = len(rows.vehicle)
    stations, station_start, station_count = flatten_per_halle(layout.stations)
    station = station_start[rows.halle] + draw_below(station_count[rows.halle], rng)
    staff, staff_start, staff_count = flatten_per_halle(layout.inspectors)
    drawn = draw_below(staff_count[rows.halle], rng)
    inspector = staff_start[rows.halle] + np.where(rows.inspector >= 0, rows.inspector, drawn)
    position = rng.choice(len(POSITION_WEIGHTS), size=size, p=POSITION_WEIGHTS) + 1
    attributes = vehicles.attribute_series()
    text = pl.DataFrame(
        {
            "part": pl.Series([name for name, _ in PARTS]).gather(rows.part),
            "position": pl.Series(position).cast(pl.String).str.zfill(2),
            "kind": pl.Series(KINDS).gather(rows.kind),
        }
    ).select(pl.concat_str(["part", pl.lit(" "), "position", pl.lit(". "), "kind"]))
    return pl.DataFrame(
        {
            "KNR": vehicles.knr.gather(rows.vehicle),
            **{name: series.gather(rows.vehicle) for name, series in attributes.items()},
            "ESTACAO": stations.gather(station),
            "USUARIO": staff.gather(inspector),
            "HALLE": pl.Series(HALLES).gather(rows.halle),
            "FALHA": text.to_series(),
            "S_GROUP_ID": pl.Series(rows.group).cast(pl.String),
            "_seconds": np.floor(calendar),
        }
    )


def flatten_per_halle(
    codes: dict[str, tuple[str, ...]],
) -> tuple[pl.Series, NDArray[np.int64], NDArray[np.int64]]:
    """All codes in HALLES order, with where each HALLE's codes begin and how many it has."""
    flat = pl.Series([code for halle in HALLES for code in codes[halle]])
    count = np.array([len(codes[halle]) for halle in HALLES], dtype=np.int64)
    return flat, np.cumsum(count) - count, count


def draw_below(limit: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.int64]:
    """A uniform integer in [0, limit) for each entry."""
    return np.floor(rng.random(len(limit)) * limit).astype(np.int64)
