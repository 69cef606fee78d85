"""Baselines on the vehicle table: the bar every sequence model has to clear.

Three kinds share one small interface (``fit`` / ``predict_proba`` /
``predict_groups``):

- ``prior``: the training failure rate for every vehicle; what "no model" scores.
- ``logistic``: median imputation, standardisation and an L2 logistic regression.
- ``boosting``: scikit-learn's HistGradientBoostingClassifier (handles missing values);
  the road-test outcome is the average of ``bags`` fits (see ``BOOSTING_BAGS``).

Failure groups are modelled one-vs-rest with the same estimator: each group
gets its own binary model over all vehicles. A group with fewer than
``MIN_GROUP_CASES`` failing (or passing) vehicles in training cannot be learnt,
so it is scored at its training rate, which is reported by ``constant_groups``.

``n_threads`` caps the cores the estimators use (None: all), so a fit can share
a machine predictably; results do not depend on it.

Class imbalance is left to the estimators as is (no reweighting), so that the
probabilities stay calibrated on the natural balance; ranking metrics are
unaffected by that choice.
"""

from __future__ import annotations

import pickle
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from roadtest.models.inputs import TabularInputs, check_labels

BaselineKind = Literal["prior", "logistic", "boosting"]
BASELINE_KINDS: tuple[BaselineKind, ...] = ("prior", "logistic", "boosting")

BOOSTING_BAGS = 5
"""Boosting fits averaged for the road-test outcome, with seeds ``seed`` … ``seed + bags - 1``.

Each fit stops early on its own random 15 % of the training vehicles; with a
few hundred failures that holdout's loss is noisy, so single fits stop after
a different few dozen trees and rank cars differently. Their average ranked
cars better than one fit on validation in 11 of 12 repeated time splits x
seeds. The failure groups keep one fit each (nine more targets, each as costly).
"""

MIN_GROUP_CASES = 5
"""Fewest failing and passing vehicles a failure group needs to get its own model."""

_FORMAT = "roadtest.baseline/1"


class _Scorer(Protocol):
    """What the baselines use of a fitted scikit-learn classifier."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


def _make_estimator(kind: BaselineKind, seed: int) -> ClassifierMixin:
    """A fresh, unfitted estimator of ``kind``."""
    if kind == "prior":
        return DummyClassifier(strategy="prior")
    if kind == "logistic":
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000),
        )
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=400,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=20,
        random_state=seed,
    )


@dataclass(frozen=True)
class _ConstantRate:
    """A target too rare to learn: every vehicle gets the training rate."""

    rate: float

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Two-column probabilities, like a scikit-learn classifier."""
        p = np.full(X.shape[0], self.rate)
        return np.column_stack([1.0 - p, p])


@dataclass(frozen=True)
class _Averaged:
    """Several fits of one target: their probabilities averaged."""

    members: tuple[_Scorer, ...]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Two-column probabilities, like a scikit-learn classifier."""
        return np.mean([member.predict_proba(X) for member in self.members], axis=0)


def _fit_averaged(
    kind: BaselineKind, seed: int, X: np.ndarray, y: np.ndarray, bags: int
) -> _Scorer:
    """``bags`` fits of one target with consecutive seeds, averaged; one fit when more would
    be identical (a deterministic estimator, or a target too rare to learn)."""
    first = _fit_target(kind, seed, X, y)
    if kind != "boosting" or bags == 1 or isinstance(first, _ConstantRate):
        return first
    rest = tuple(_fit_target(kind, seed + b, X, y) for b in range(1, bags))
    return _Averaged((first, *rest))


def _fit_target(kind: BaselineKind, seed: int, X: np.ndarray, y: np.ndarray) -> _Scorer:
    """Fit one binary target, falling back to its rate when it is too rare to learn."""
    positives = int(y.sum())
    if min(positives, y.shape[0] - positives) < MIN_GROUP_CASES:
        return _ConstantRate(float(y.mean()))
    estimator = _make_estimator(kind, seed)
    estimator.fit(X, y)
    return estimator


@dataclass
class BaselineModel:
    """A baseline of ``kind`` for the road-test outcome and, one-vs-rest, the failure groups."""

    kind: BaselineKind
    seed: int = 0
    n_threads: int | None = None
    bags: int = BOOSTING_BAGS
    """Boosting fits averaged for the road-test outcome (``BOOSTING_BAGS``); others fit once."""
    feature_names: tuple[str, ...] = field(default=(), init=False)
    _main: _Scorer | None = field(default=None, init=False, repr=False)
    _groups: list[_Scorer] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in BASELINE_KINDS:
            raise ValueError(f"unknown baseline {self.kind!r}; choose one of {BASELINE_KINDS}")
        if self.n_threads is not None and self.n_threads < 1:
            raise ValueError("n_threads must be at least 1 (or None for all cores)")
        if self.bags < 1:
            raise ValueError(f"bags must be at least 1, got {self.bags}")

    @property
    def n_groups(self) -> int:
        """Number of failure groups the model scores (0 when fitted without groups)."""
        return len(self._groups)

    @property
    def constant_groups(self) -> tuple[int, ...]:
        """Indices of groups too rare in training to learn, scored at their training rate."""
        return tuple(i for i, model in enumerate(self._groups) if isinstance(model, _ConstantRate))

    def fit(
        self, X: TabularInputs, y: np.ndarray, y_groups: np.ndarray | None = None
    ) -> BaselineModel:
        """Fit on the vehicles of ``X`` with outcome ``y`` [N] and optional groups [N, G]."""
        labels, groups = check_labels(y, y_groups, X.n_vehicles)
        if labels.min() == labels.max():
            raise ValueError(
                "the training window holds only one outcome (all passed or all failed); "
                "a model needs both, widen the window"
            )
        self.feature_names = X.feature_names
        with self._thread_limit():
            self._main = _fit_averaged(self.kind, self.seed, X.features, labels, self.bags)
            self._groups = (
                []
                if groups is None
                else [
                    _fit_target(self.kind, self.seed, X.features, groups[:, g])
                    for g in range(groups.shape[1])
                ]
            )
        return self

    def predict_proba(self, X: TabularInputs) -> np.ndarray:
        """P(road-test failure) [N] for the vehicles of ``X``."""
        main = self._fitted_main()
        self._check_columns(X)
        with self._thread_limit():
            return main.predict_proba(X.features)[:, 1].astype(np.float64)

    def predict_groups(self, X: TabularInputs) -> np.ndarray:
        """P(failure in group g) [N, G] for the vehicles of ``X``."""
        self._fitted_main()
        if not self._groups:
            raise ValueError("this baseline was fitted without failure groups")
        self._check_columns(X)
        with self._thread_limit():
            columns = [model.predict_proba(X.features)[:, 1] for model in self._groups]
        return np.column_stack(columns).astype(np.float64)

    def to_bytes(self) -> bytes:
        """The fitted model as bytes, for the registry to store.

        The format is a pickle: load only bytes this project wrote.
        """
        self._fitted_main()
        return pickle.dumps((_FORMAT, self), protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> BaselineModel:
        """A model saved by ``to_bytes`` (trusted bytes only: the format is a pickle)."""
        try:
            tag, model = pickle.loads(data)
        except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as error:
            raise ValueError("these bytes are not a saved roadtest baseline") from error
        if tag != _FORMAT or not isinstance(model, cls):
            raise ValueError(f"these bytes are not a saved roadtest baseline ({_FORMAT})")
        return model

    def _thread_limit(self) -> AbstractContextManager[object]:
        """The thread cap, or nothing: without a cap threadpoolctl would still rescan the
        loaded libraries on every call (about 10 ms, more than scoring one vehicle)."""
        if self.n_threads is None:
            return nullcontext()
        return threadpool_limits(self.n_threads)

    def _fitted_main(self) -> _Scorer:
        if self._main is None:
            raise ValueError(f"the {self.kind} baseline is not fitted yet; call fit first")
        return self._main

    def _check_columns(self, X: TabularInputs) -> None:
        if X.feature_names != self.feature_names:
            missing = sorted(set(self.feature_names) - set(X.feature_names))
            extra = sorted(set(X.feature_names) - set(self.feature_names))
            raise ValueError(
                "the feature columns differ from training "
                f"(missing: {missing}, unexpected: {extra}, or a different order)"
            )
