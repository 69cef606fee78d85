"""What the road-test team should check on a vehicle for each likely failure group.

The model names failure groups (the partner's S_GROUP_ID); a group alone does
not tell an inspector where to look. This catalogue turns each group into the
few checks that cover the defects logged under it at the road test, so a
prediction says what to do, not only how likely a failure is.
"""

from __future__ import annotations

from typing import Final

from roadtest.contracts.partner import S_GROUPS
from roadtest.contracts.warehouse import slug

GROUP_CHECKS: Final[dict[str, tuple[str, ...]]] = {
    "rear": (
        "Rear axle and suspension bolting (torque marks, noises over bumps)",
        "Tailgate alignment, lock and seal",
        "Rear lamps and exhaust mounting",
    ),
    "central": (
        "Seats, belts and centre console fixing",
        "Cabin noises and rattles at speed",
        "Instrument panel and HVAC function",
    ),
    "doors": (
        "Door alignment, gaps and closing effort",
        "Door seals, wind noise and water tightness",
        "Window regulators, mirrors and central locking",
    ),
    "front": (
        "Front axle, steering and wheel alignment (pulling, steering-wheel angle)",
        "Brake feel and brake noise",
        "Engine bay: fluid levels, leaks and hose clamps",
    ),
    "general": (
        "Full functional road-test route",
        "Warning lamps and fault memory after the drive",
    ),
    "external_underbody": (
        "Underbody inspection on the lift: leaks, hoses, heat shields",
        "Underbody bolting and protective covers",
    ),
    "documentation": ("Vehicle documents, labels and VIN plates complete and matching",),
    "back_office_test": ("Back-office test records complete for this vehicle",),
    "electrical": (
        "Fault memory read-out of every control unit",
        "Lighting, wipers, infotainment and driver-assistance functions",
        "Battery, charging voltage and ground connections",
    ),
    "unknown": ("Full functional road-test route",),
}
"""Checks per failure group, keyed by the slug of its name (``contracts.partner.S_GROUPS``)."""


def checks_for(group_name: str) -> list[str]:
    """The checks for a failure group (name or slug); the full road test when not catalogued."""
    return list(GROUP_CHECKS.get(slug(group_name), GROUP_CHECKS["unknown"]))


def group_id_of(group_name: str) -> int | None:
    """The S_GROUP_ID of a group (name or slug), None for ``unknown`` or an unlisted name."""
    for group_id, name in S_GROUPS.items():
        if slug(name) == slug(group_name):
            return group_id
    return None
