"""What the models eat: the contract between feature building and modelling.

The feature code turns warehouse marts into these arrays; every model in
``roadtest.models`` takes them and nothing else, so training and serving share
one definition of an input. The checks run once, when an input is built, so
that a malformed batch is rejected with a message naming the array at fault
instead of failing deep inside a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PADDING_CODE = 0
"""Categorical code of the positions after a vehicle's last event."""

UNKNOWN_CODE = 1
"""Categorical code of a value the vocabulary has not seen."""

ONNX_INPUT_NAMES = ("categorical", "numeric", "lengths", "static")
ONNX_OUTPUT_NAMES = ("p_fail", "p_groups")
"""Names of the exported model's inputs (the fields of ``SequenceInputs``) and outputs."""


def _as_array(name: str, value: np.ndarray, ndim: int, kind: str, dtype: type) -> np.ndarray:
    """Convert ``value`` to a contiguous array of ``dtype``, refusing lossy conversions."""
    array = np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if array.dtype.kind not in kind:
        raise ValueError(f"{name} must hold numbers of kind {kind!r}, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=dtype)


def _require_finite(name: str, array: np.ndarray) -> None:
    """Reject NaN/inf where the model cannot treat them as missing."""
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(
            f"{name} has {bad} missing or infinite values; fill them before modelling "
            "(the feature step imputes and normalises)"
        )


@dataclass(frozen=True)
class SequenceInputs:
    """Event sequences of ``N`` vehicles, padded to ``T`` events, plus static inputs.

    categorical: int64 [N, T, C] codes per event and channel; 0 = padding, 1 = unknown.
    numeric: float32 [N, T, F] normalised numbers per event.
    lengths: int64 [N] number of real events of each vehicle, 1 <= length <= T
        (a vehicle with no events is given one "empty" event by the feature step).
    static: float32 [N, S] normalised static inputs of each vehicle.

    Positions at and after ``lengths`` are ignored by every model, whatever they hold.
    """

    categorical: np.ndarray
    numeric: np.ndarray
    lengths: np.ndarray
    static: np.ndarray

    def __post_init__(self) -> None:
        categorical = _as_array("categorical", self.categorical, 3, "iu", np.int64)
        numeric = _as_array("numeric", self.numeric, 3, "iufb", np.float32)
        lengths = _as_array("lengths", self.lengths, 1, "iu", np.int64)
        static = _as_array("static", self.static, 2, "iufb", np.float32)
        n, t, _ = categorical.shape
        if n == 0 or t == 0:
            raise ValueError(f"sequences need at least one vehicle and one event, got {n}x{t}")
        if numeric.shape[:2] != (n, t):
            raise ValueError(
                f"numeric has shape {numeric.shape} but categorical has {categorical.shape}: "
                "both must share vehicles and events"
            )
        if lengths.shape[0] != n or static.shape[0] != n:
            raise ValueError(
                f"lengths ({lengths.shape[0]}) and static ({static.shape[0]}) must have one "
                f"row per vehicle ({n})"
            )
        if categorical.shape[2] == 0:
            raise ValueError("categorical needs at least one channel (the event type)")
        if categorical.min() < 0:
            raise ValueError("categorical codes must be >= 0 (0 = padding, 1 = unknown)")
        if lengths.min() < 1 or lengths.max() > t:
            raise ValueError(
                f"lengths must lie between 1 and the padded length {t}, got "
                f"{lengths.min()}..{lengths.max()}"
            )
        _require_finite("numeric", numeric)
        _require_finite("static", static)
        object.__setattr__(self, "categorical", categorical)
        object.__setattr__(self, "numeric", numeric)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "static", static)

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles ``N``."""
        return int(self.lengths.shape[0])

    @property
    def n_categorical(self) -> int:
        """Number of categorical channels ``C``."""
        return int(self.categorical.shape[2])

    @property
    def n_numeric(self) -> int:
        """Number of numeric channels ``F``."""
        return int(self.numeric.shape[2])

    @property
    def n_static(self) -> int:
        """Number of static inputs ``S``."""
        return int(self.static.shape[1])

    def take(self, index: np.ndarray) -> SequenceInputs:
        """The vehicles at ``index``, padded only to the longest of them (saves work in batches)."""
        index = np.asarray(index)
        lengths = self.lengths[index]
        t = int(lengths.max())
        return SequenceInputs(
            categorical=self.categorical[index, :t],
            numeric=self.numeric[index, :t],
            lengths=lengths,
            static=self.static[index],
        )


@dataclass(frozen=True)
class TabularInputs:
    """One row of features per vehicle, for the baseline models.

    features: float32 [N, K]; NaN marks a missing value (the baselines handle it).
    feature_names: the K column names, used to refuse a table whose columns differ.
    """

    features: np.ndarray
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        features = _as_array("features", self.features, 2, "iufb", np.float32)
        names = tuple(self.feature_names)
        if features.shape[1] != len(names):
            raise ValueError(
                f"features has {features.shape[1]} columns but {len(names)} feature names"
            )
        if len(set(names)) != len(names):
            duplicated = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(f"feature names must be unique, repeated: {duplicated}")
        if np.isinf(features).any():
            raise ValueError("features hold infinite values; use NaN for a missing value")
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "feature_names", names)

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles ``N``."""
        return int(self.features.shape[0])

    def take(self, index: np.ndarray) -> TabularInputs:
        """The rows at ``index``."""
        return TabularInputs(self.features[np.asarray(index)], self.feature_names)


def _as_binary(name: str, value: np.ndarray, ndim: int) -> np.ndarray:
    """Labels as int8 0/1, refusing anything else so a mislabelled export cannot train silently."""
    array = np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if array.size and not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 (passed) and 1 (failed)")
    return array.astype(np.int8)


def check_labels(
    y: np.ndarray, y_groups: np.ndarray | None, n_vehicles: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate the road-test outcome ``y`` [N] and failure groups ``y_groups`` [N, G].

    A vehicle with a failure group must have failed: the groups are the groups of
    its road-test defects, so any other combination means the labels are corrupt.
    """
    labels = _as_binary("y", y, 1)
    if labels.shape[0] != n_vehicles:
        raise ValueError(f"y has {labels.shape[0]} labels for {n_vehicles} vehicles")
    if y_groups is None:
        return labels, None
    groups = _as_binary("y_groups", y_groups, 2)
    if groups.shape[0] != n_vehicles:
        raise ValueError(f"y_groups has {groups.shape[0]} rows for {n_vehicles} vehicles")
    orphans = int(np.count_nonzero(groups.any(axis=1) & (labels == 0)))
    if orphans:
        raise ValueError(
            f"{orphans} vehicles have a failure group but did not fail the road test; "
            "the labels are inconsistent"
        )
    return labels, groups
