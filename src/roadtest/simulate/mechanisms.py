"""Why simulated vehicles fail the road test: documented mechanisms and their effect sizes.

Every risk is an *event* with a probability of causing a road-test failure:
one per vehicle for its configuration, one per near-limit torque, per NOK
rework, per long dwell, per earlier defect, per low battery voltage. Events
act independently (competing risks), so

    p_fail = 1 - prod(1 - p_event)

and a vehicle truly fails when at least one of its events fires. The fired
events name the mechanisms and the failure groups of the vehicle, which is
what the truth file records. The numbers below are the effect sizes that
``docs/simulator.md`` and ``truth/mechanisms.json`` document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from roadtest.contracts.partner import ENGINES
from roadtest.simulate.defects import DefectRows
from roadtest.simulate.layout import (
    GROUP_BACKOFFICE,
    GROUP_CENTRAL,
    GROUP_DOCS,
    GROUP_DOORS,
    GROUP_ELECTRICAL,
    GROUP_FRONT,
    GROUP_GENERAL,
    GROUP_REAR,
    GROUP_UNDERBODY,
    MODELS,
    ZONE_CODES,
    ProgramTable,
)
from roadtest.simulate.results import TestOutcome

CONFIGURATION = "configuration"
TORQUE = "torque_near_limit"
LATE_REWORK = "rework_after_zone"
IN_ZONE_REWORK = "rework_in_zone"
DWELL = "long_dwell"
EARLIER_DEFECT = "earlier_defect"
VOLTAGE = "low_battery_voltage"
MECHANISMS: Final = (
    CONFIGURATION,
    TORQUE,
    LATE_REWORK,
    IN_ZONE_REWORK,
    DWELL,
    EARLIER_DEFECT,
    VOLTAGE,
)

BASE_P: Final = 0.008
ENGINE_MULTIPLIER: Final = {"DHS": 1.0, "CWL": 0.8, "CWS": 1.2, "DRP": 2.2, "DSN": 1.6}
MODEL_MULTIPLIER: Final = {"AM10": 1.0, "AM12": 1.3, "BM20": 1.8}
BASE_GROUP_SHARES: Final = {
    GROUP_GENERAL: 0.22,
    GROUP_DOCS: 0.10,
    GROUP_BACKOFFICE: 0.14,
    GROUP_UNDERBODY: 0.14,
    GROUP_FRONT: 0.12,
    GROUP_REAR: 0.08,
    GROUP_DOORS: 0.10,
    GROUP_CENTRAL: 0.10,
}
"""Groups of failures without a specific cause, and of the extra finding a failing car may have."""

TORQUE_MARGIN: Final = 0.10
TORQUE_P_MAX: Final = 0.22
"""A key torque within 10 % of the window from a limit (still OK) risks up to 22 %, linearly."""
LATE_REWORK_P: Final = 0.30
IN_ZONE_REWORK_P: Final = 0.01
"""A NOK program reworked after the vehicle left the zone, versus reworked in the zone."""
DWELL_FROM, DWELL_TO = ZONE_CODES.index("M600"), ZONE_CODES.index("M700")
DWELL_HOURS: Final = 12.0
DWELL_P: Final = 0.15
DWELL_GROUP_SHARES: Final = {GROUP_ELECTRICAL: 0.6, GROUP_GENERAL: 0.4}
DEFECT_P: Final = {False: 0.003, True: 0.045}
"""Per earlier (ZP5…ZP7, CAB) defect, minor or severe kind."""
VOLTAGE_POSITION: Final = 0.25
VOLTAGE_P: Final = {False: 0.02, True: 0.30}
"""Final battery voltage in the lowest quarter of its window: before / from the drift date."""
EXTRA_GROUP_P: Final = 0.2
"""Chance a failing vehicle shows one more failure group besides its causes."""


@dataclass(frozen=True)
class RiskEvents:
    """Every risk event of every vehicle."""

    vehicle: NDArray[np.int64]
    mechanism: NDArray[np.int64]
    p: NDArray[np.float64]
    group: NDArray[np.int64]


@dataclass(frozen=True)
class Outcome:
    """The true road-test outcome of every vehicle and its causes."""

    p_fail: NDArray[np.float64]
    failed_truly: NDArray[np.bool_]
    causes: pl.DataFrame
    """vehicle, mechanism (name): mechanisms that fired, failing vehicles only."""
    groups: pl.DataFrame
    """vehicle, group: true failure groups, failing vehicles only."""
    risk_factors: pl.DataFrame
    """vehicle, mechanism: mechanisms whose condition is present, fired or not."""


def events(
    vehicle: NDArray[np.int64], mechanism: str, p: NDArray[np.float64], group: NDArray[np.int64]
) -> RiskEvents:
    """Risk events of one mechanism."""
    return RiskEvents(
        vehicle=vehicle,
        mechanism=np.full(len(vehicle), MECHANISMS.index(mechanism)),
        p=np.broadcast_to(p, vehicle.shape).astype(np.float64),
        group=np.broadcast_to(group, vehicle.shape).astype(np.int64),
    )


def draw_groups(shares: dict[int, float], size: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """``size`` failure groups drawn with the given shares."""
    return rng.choice(np.array(list(shares)), size=size, p=np.array(list(shares.values())))


def configuration_risk(model: NDArray[np.int64], engine: NDArray[np.int64]) -> NDArray[np.float64]:
    """Base rate of a vehicle's model and engine."""
    engine_factor = np.array([ENGINE_MULTIPLIER[e] for e in ENGINES])[engine]
    model_factor = np.array([MODEL_MULTIPLIER[m] for m in MODELS])[model]
    return BASE_P * engine_factor * model_factor


def collect_risks(
    model: NDArray[np.int64],
    engine: NDArray[np.int64],
    tests: TestOutcome,
    programs: ProgramTable,
    line_defects: DefectRows,
    dwell_hours: NDArray[np.float64],
    voltage_after_drift: NDArray[np.bool_],
    rng: np.random.Generator,
) -> RiskEvents:
    """All risk events, mechanism by mechanism."""
    count = len(model)
    everyone = np.arange(count)
    near = np.flatnonzero(tests.torque_margin < TORQUE_MARGIN)
    closeness = 1.0 - tests.torque_margin[near] / TORQUE_MARGIN
    late = tests.reworks.late
    rework_location = programs.location[tests.reworks.program]
    dwelled = np.flatnonzero(dwell_hours > DWELL_HOURS)
    low = np.flatnonzero(tests.voltage_position < VOLTAGE_POSITION)
    parts = [
        events(
            everyone,
            CONFIGURATION,
            configuration_risk(model, engine),
            draw_groups(BASE_GROUP_SHARES, count, rng),
        ),
        events(near, TORQUE, TORQUE_P_MAX * closeness, tests.torque_location[near]),
        events(
            tests.reworks.vehicle[late],
            LATE_REWORK,
            np.asarray(LATE_REWORK_P),
            rework_location[late],
        ),
        events(
            tests.reworks.vehicle[~late],
            IN_ZONE_REWORK,
            np.asarray(IN_ZONE_REWORK_P),
            rework_location[~late],
        ),
        events(
            dwelled,
            DWELL,
            np.asarray(DWELL_P),
            draw_groups(DWELL_GROUP_SHARES, len(dwelled), rng),
        ),
        events(
            line_defects.vehicle,
            EARLIER_DEFECT,
            np.where(line_defects.severe, DEFECT_P[True], DEFECT_P[False]),
            line_defects.group,
        ),
        events(
            low,
            VOLTAGE,
            np.where(voltage_after_drift[low], VOLTAGE_P[True], VOLTAGE_P[False]),
            np.asarray(GROUP_ELECTRICAL),
        ),
    ]
    return RiskEvents(
        vehicle=np.concatenate([p.vehicle for p in parts]),
        mechanism=np.concatenate([p.mechanism for p in parts]),
        p=np.concatenate([p.p for p in parts]),
        group=np.concatenate([p.group for p in parts]),
    )


def decide_outcome(risks: RiskEvents, count: int, rng: np.random.Generator) -> Outcome:
    """Fire each event with its probability; a vehicle fails when any of its events fires."""
    log_survival = np.bincount(risks.vehicle, weights=np.log1p(-risks.p), minlength=count)
    fired = rng.random(len(risks.p)) < risks.p
    failed_truly = np.bincount(risks.vehicle[fired], minlength=count) > 0
    failing = np.flatnonzero(failed_truly)
    extra = failing[rng.random(len(failing)) < EXTRA_GROUP_P]
    names = pl.Series(MECHANISMS)
    groups = pl.DataFrame(
        {
            "vehicle": np.concatenate((risks.vehicle[fired], extra)),
            "group": np.concatenate(
                (risks.group[fired], draw_groups(BASE_GROUP_SHARES, len(extra), rng))
            ),
        }
    )
    factor = risks.mechanism != MECHANISMS.index(CONFIGURATION)
    return Outcome(
        p_fail=-np.expm1(log_survival),
        failed_truly=failed_truly,
        causes=pl.DataFrame(
            {"vehicle": risks.vehicle[fired], "mechanism": names.gather(risks.mechanism[fired])}
        ).unique(maintain_order=True),
        groups=groups.unique(maintain_order=True),
        risk_factors=pl.DataFrame(
            {"vehicle": risks.vehicle[factor], "mechanism": names.gather(risks.mechanism[factor])}
        ).unique(maintain_order=True),
    )


def describe_mechanisms(drift_date: datetime) -> list[dict[str, Any]]:
    """The mechanisms and their effect sizes, as written to ``truth/mechanisms.json``."""
    zone_from, zone_to = ZONE_CODES[DWELL_FROM], ZONE_CODES[DWELL_TO]
    return [
        {
            "name": CONFIGURATION,
            "kind": "vehicle configuration base rate",
            "rule": "every vehicle: base probability x engine multiplier x model multiplier",
            "effect": {
                "base_probability": BASE_P,
                "engine_multiplier": ENGINE_MULTIPLIER,
                "model_multiplier": MODEL_MULTIPLIER,
            },
            "groups": BASE_GROUP_SHARES,
        },
        {
            "name": TORQUE,
            "kind": "numeric: value inside spec but near a limit",
            "rule": (
                "final torque of programs 012001/012002/013005 within "
                f"{TORQUE_MARGIN:.0%} of the spec window from a limit (status OK)"
            ),
            "effect": {
                "probability_at_limit": TORQUE_P_MAX,
                "probability": f"{TORQUE_P_MAX} x (1 - margin / {TORQUE_MARGIN})",
            },
            "groups": "the program's area: 012001 front (5), 012002 central (2), 013005 rear (1)",
        },
        {
            "name": LATE_REWORK,
            "kind": "sequence: rework after the vehicle left the zone",
            "rule": "a NOK program whose retest is after the next zone passage",
            "effect": {"probability_per_rework": LATE_REWORK_P},
            "groups": "the program's area (bolting: its area; machines: 137/133/5; 718: 9830946)",
        },
        {
            "name": IN_ZONE_REWORK,
            "kind": "sequence: the same NOK reworked inside the zone",
            "rule": "a NOK program whose retest is before the next zone passage",
            "effect": {"probability_per_rework": IN_ZONE_REWORK_P},
            "groups": "the program's area",
        },
        {
            "name": DWELL,
            "kind": "process timing: long dwell between zones",
            "rule": f"more than {DWELL_HOURS:g} h (calendar) from {zone_from} to {zone_to}",
            "effect": {"probability": DWELL_P},
            "groups": DWELL_GROUP_SHARES,
        },
        {
            "name": EARLIER_DEFECT,
            "kind": "earlier defects (FALHAS at ZP5…ZP7, CAB)",
            "rule": "each defect logged before the road test; severe kinds leave a fault",
            "effect": {
                "probability_per_minor_defect": DEFECT_P[False],
                "probability_per_severe_defect": DEFECT_P[True],
            },
            "groups": "the defect's own S_GROUP_ID",
        },
        {
            "name": VOLTAGE,
            "kind": "numeric with drift: changes at the drift date",
            "rule": (
                f"final battery voltage (730100) in the lowest {VOLTAGE_POSITION:.0%} "
                "of its spec window"
            ),
            "effect": {
                "probability_before_drift": VOLTAGE_P[False],
                "probability_from_drift": VOLTAGE_P[True],
                "drift_date": drift_date.isoformat(),
            },
            "groups": {GROUP_ELECTRICAL: 1.0},
        },
    ]
