"""What a simulated plant looks like: every knob, with a documented default.

The defaults give a plant whose exports look like the partner's (a few weeks of
production, ~200 result rows per vehicle, 5–7 % road-test failures). Each field
is checked on construction so a bad value fails with a message that says what to
change, instead of a numpy error deep in the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from roadtest.simulate.clock import RUNNING_WINDOWS

MIN_ROWS_PER_VEHICLE = 45
"""The mandatory test programs plus the post-road-test checks already give 40 rows."""


@dataclass(frozen=True)
class PlantConfig:
    """Parameters of one simulated plant; the same config always gives the same plant."""

    vehicles: int = 2000
    """Vehicles built over the period (each gets a KNR and one truth row)."""
    seed: int = 7
    """Seed of every random draw; the plant layout (programs, stations) does not depend on it."""
    start: date = date(2024, 1, 1)
    """First production day; a weekend start moves to the next Monday."""
    rows_per_vehicle: int = 200
    """Target mean RESULTADOS rows per vehicle (trim levels spread it ~150–300)."""
    production_days: int = 20
    """Working days (Mon–Fri) the vehicles are spread over; sets the takt."""
    shifts_per_day: int = 2
    """1: 06–14 h, 2: 06–22 h, 3: around the clock; each shift has a 30 min break."""
    line_stops_per_day: float = 2.0
    """Mean unplanned line stops per running day; about one in ten lasts 2–12 h."""
    pending_share: float = 0.015
    """Share of vehicles that have not finished the road test at export time (unlabelled).

    At most the share still on the line when the last vehicle has passed ZP5
    (about 2 % with the default period); a larger value gives that share.
    """
    drift_at: float = 0.6
    """When the battery mechanism changes, as a fraction of the exported period."""
    late_rework_share: float = 0.25
    """Share of NOK rework retests done after the vehicle has left the zone."""
    inspector_miss_rate: float = 0.10
    """Mean share of true road-test failures the road-test inspectors do not record."""
    missing_chain_share: float = 0.20
    """Share of vehicles with one or two ZP5→ZP7 passages missing from STATUS."""
    negative_gap_share: float = 0.02
    """Share of vehicles with one zone passage stamped before the previous one."""
    duplicate_share: float = 0.004
    """Share of rows of each export that appear twice."""
    junk_group_share: float = 0.02
    """Share of FALHAS rows whose S_GROUP_ID is junk (``#MULTIVALUE``, ``-2``) or empty."""

    def __post_init__(self) -> None:
        problems = list(_config_problems(self))
        if problems:
            raise ValueError("invalid plant configuration: " + "; ".join(problems))

    @property
    def takt_seconds(self) -> float:
        """Seconds of running line time between two vehicles entering ZP5."""
        running = sum(end - begin for begin, end in RUNNING_WINDOWS[self.shifts_per_day])
        return self.production_days * running / self.vehicles


def _config_problems(config: PlantConfig) -> list[str]:
    """Every value out of range, phrased as what to use instead."""
    problems: list[str] = []
    if config.seed < 0:
        problems.append(f"seed must be 0 or a positive integer (got {config.seed})")
    if config.vehicles < 10:
        problems.append(f"vehicles must be at least 10 (got {config.vehicles})")
    if config.rows_per_vehicle < MIN_ROWS_PER_VEHICLE:
        problems.append(
            f"rows_per_vehicle must be at least {MIN_ROWS_PER_VEHICLE}, the rows of the "
            f"mandatory test programs (got {config.rows_per_vehicle})"
        )
    if config.production_days < 1:
        problems.append(f"production_days must be at least 1 (got {config.production_days})")
    if config.shifts_per_day not in (1, 2, 3):
        problems.append(f"shifts_per_day must be 1, 2 or 3 (got {config.shifts_per_day})")
    if config.line_stops_per_day < 0:
        problems.append(f"line_stops_per_day must be >= 0 (got {config.line_stops_per_day})")
    if not problems and config.takt_seconds < 5.0:
        problems.append(
            f"{config.vehicles} vehicles in {config.production_days} days means a takt of "
            f"{config.takt_seconds:.1f} s; raise production_days (takt must be >= 5 s)"
        )
    shares = {
        "pending_share": (config.pending_share, 0.0, 0.5),
        "drift_at": (config.drift_at, 0.0, 1.0),
        "late_rework_share": (config.late_rework_share, 0.0, 1.0),
        "inspector_miss_rate": (config.inspector_miss_rate, 0.0, 0.3),
        "missing_chain_share": (config.missing_chain_share, 0.0, 1.0),
        "negative_gap_share": (config.negative_gap_share, 0.0, 0.5),
        "duplicate_share": (config.duplicate_share, 0.0, 0.5),
        "junk_group_share": (config.junk_group_share, 0.0, 0.5),
    }
    for name, (value, low, high) in shares.items():
        if not low <= value <= high:
            problems.append(f"{name} must be between {low} and {high} (got {value})")
    return problems
