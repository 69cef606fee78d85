"""Synthetic event sequences with a failure mechanism only the ORDER of events reveals.

Every vehicle has exactly one event with marker code ``A`` and one with
marker code ``B`` among random filler events; it fails when ``A`` comes before
``B``. Counting codes (what a vehicle table does) sees one ``A`` and one ``B``
in every vehicle and learns nothing, so this problem tells a sequence model
that reads order apart from one that only counts. The failure group is the
event type of the ``A`` event. Tests and the training benchmark use it; the
plant simulator is the realistic data source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roadtest.models.inputs import SequenceInputs, TabularInputs

EVENT_TYPES = (2, 3, 4)
"""Codes of categorical channel 0 (zone, result, defect); 0 and 1 are padding/unknown."""

MARKER_A = 2
MARKER_B = 3
"""Codes of categorical channel 1 whose order decides the outcome."""


@dataclass(frozen=True)
class SyntheticSequences:
    """Sequences, outcome, failure groups and the bag-of-codes table of the same vehicles."""

    inputs: SequenceInputs
    y: np.ndarray
    y_groups: np.ndarray
    counts: TabularInputs


def make_order_sequences(
    n_vehicles: int,
    *,
    min_events: int = 5,
    max_events: int = 30,
    n_codes: int = 20,
    positive_rate: float = 0.5,
    n_groups: int = 3,
    seed: int = 0,
) -> SyntheticSequences:
    """``n_vehicles`` vehicles of ``min_events``..``max_events`` events, ``positive_rate`` failing.

    Channel 0 is the event type, channel 1 the code (``n_codes`` filler codes
    besides the two markers); the numeric channels and static inputs are noise.
    """
    if not 2 <= min_events <= max_events:
        raise ValueError("need 2 <= min_events <= max_events (two marker events per vehicle)")
    if not 1 <= n_groups <= len(EVENT_TYPES):
        raise ValueError(f"n_groups must lie between 1 and {len(EVENT_TYPES)}")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_events, max_events + 1, size=n_vehicles)
    t = int(lengths.max())
    positions = np.arange(t)[None, :]
    valid = positions < lengths[:, None]

    codes = rng.integers(MARKER_B + 1, MARKER_B + 1 + n_codes, size=(n_vehicles, t))
    first, second = _two_distinct_positions(rng, lengths)
    y = (rng.random(n_vehicles) < positive_rate).astype(np.int8)
    a_at = np.where(y == 1, first, second)
    b_at = np.where(y == 1, second, first)
    rows = np.arange(n_vehicles)
    codes[rows, a_at] = MARKER_A
    codes[rows, b_at] = MARKER_B
    types = rng.choice(EVENT_TYPES, size=(n_vehicles, t))
    categorical = np.stack([types, codes], axis=2) * valid[:, :, None]

    numeric = (
        np.stack(
            [rng.normal(size=(n_vehicles, t)), np.log1p(positions + np.zeros((n_vehicles, 1))) / 5],
            axis=2,
        )
        * valid[:, :, None]
    )
    static = rng.normal(size=(n_vehicles, 2))
    group_of_a = types[rows, a_at] - EVENT_TYPES[0]
    y_groups = ((group_of_a[:, None] == np.arange(n_groups)[None, :]) & (y[:, None] == 1)).astype(
        np.int8
    )
    inputs = SequenceInputs(categorical, numeric, lengths, static)
    return SyntheticSequences(inputs, y, y_groups, _count_codes(inputs, n_codes))


def _two_distinct_positions(
    rng: np.random.Generator, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two different event positions per vehicle, the first one earlier."""
    one = (rng.random(lengths.shape[0]) * lengths).astype(np.int64)
    other = (rng.random(lengths.shape[0]) * (lengths - 1)).astype(np.int64)
    other = np.where(other >= one, other + 1, other)
    return np.minimum(one, other), np.maximum(one, other)


def _count_codes(inputs: SequenceInputs, n_codes: int) -> TabularInputs:
    """The vehicle table of the same vehicles: how often each code and type occurs."""
    codes = inputs.categorical[:, :, 1]
    types = inputs.categorical[:, :, 0]
    code_values = range(MARKER_A, MARKER_B + 1 + n_codes)
    columns = [(codes == c).sum(axis=1) for c in code_values]
    columns += [(types == c).sum(axis=1) for c in EVENT_TYPES]
    names = [f"code_{c}" for c in code_values] + [f"type_{c}" for c in EVENT_TYPES]
    features = np.column_stack([*columns, inputs.lengths, inputs.static])
    names += ["n_events"] + [f"static_{i}" for i in range(inputs.n_static)]
    return TabularInputs(features, tuple(names))
