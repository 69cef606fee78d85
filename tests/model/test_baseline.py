"""Baselines learn a tabular signal, score groups one-vs-rest and survive saving."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from roadtest.models.baseline import BaselineModel
from roadtest.models.inputs import TabularInputs

NAMES = tuple(f"x{i}" for i in range(5))


def make_table(n: int, seed: int) -> tuple[TabularInputs, np.ndarray, np.ndarray]:
    """About 10 % failures driven by two features and an interaction; groups split by x4."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    logit = 1.5 * x[:, 0] - 1.2 * x[:, 1] + x[:, 2] * x[:, 3] - 3.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    groups = np.column_stack([y * (x[:, 4] > 0), y * (x[:, 4] <= 0), np.zeros(n)]).astype(np.int8)
    groups[np.flatnonzero(y)[:2], 2] = 1
    x[rng.random((n, 5)) < 0.02] = np.nan
    return TabularInputs(x, NAMES), y, groups


@pytest.fixture(scope="module")
def data() -> tuple[tuple[TabularInputs, np.ndarray, np.ndarray], ...]:
    return make_table(3000, seed=0), make_table(2000, seed=1)


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_baselines_beat_the_prior(
    kind: str, data: tuple[tuple[TabularInputs, np.ndarray, np.ndarray], ...]
) -> None:
    (x_train, y_train, g_train), (x_test, y_test, _) = data
    prior = BaselineModel("prior").fit(x_train, y_train, g_train)
    model = BaselineModel(kind, n_threads=1).fit(x_train, y_train, g_train)  # type: ignore[arg-type]
    p_prior, p_model = prior.predict_proba(x_test), model.predict_proba(x_test)
    assert np.allclose(p_prior, y_train.mean())
    assert roc_auc_score(y_test, p_model) > 0.8
    assert brier_score_loss(y_test, p_model) < brier_score_loss(y_test, p_prior)


def test_groups_are_scored_one_vs_rest(
    data: tuple[tuple[TabularInputs, np.ndarray, np.ndarray], ...],
) -> None:
    (x_train, y_train, g_train), (x_test, _, g_test) = data
    model = BaselineModel("boosting", n_threads=1).fit(x_train, y_train, g_train)
    p_groups = model.predict_groups(x_test)
    assert p_groups.shape == (2000, 3)
    assert model.constant_groups == (2,)
    assert np.allclose(p_groups[:, 2], 2 / 3000)
    assert roc_auc_score(g_test[:, 0], p_groups[:, 0]) > 0.75


def test_saved_baseline_predicts_the_same(
    data: tuple[tuple[TabularInputs, np.ndarray, np.ndarray], ...],
) -> None:
    (x_train, y_train, _), (x_test, _, _) = data
    model = BaselineModel("logistic").fit(x_train, y_train)
    loaded = BaselineModel.from_bytes(model.to_bytes())
    assert np.array_equal(loaded.predict_proba(x_test), model.predict_proba(x_test))
    with pytest.raises(ValueError, match="not a saved roadtest baseline"):
        BaselineModel.from_bytes(b"not a model")
    with pytest.raises(ValueError, match="fitted without failure groups"):
        model.predict_groups(x_test)


def test_baseline_refuses_misuse(
    data: tuple[tuple[TabularInputs, np.ndarray, np.ndarray], ...],
) -> None:
    (x_train, y_train, _), (x_test, _, _) = data
    with pytest.raises(ValueError, match="unknown baseline"):
        BaselineModel("forest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not fitted yet"):
        BaselineModel("prior").predict_proba(x_test)
    with pytest.raises(ValueError, match="only one outcome"):
        BaselineModel("prior").fit(x_train, np.zeros(3000, dtype=np.int8))
    model = BaselineModel("prior").fit(x_train, y_train)
    renamed = TabularInputs(x_test.features, ("x0", "x1", "x2", "x3", "other"))
    with pytest.raises(ValueError, match=r"missing: \['x4'\], unexpected: \['other'\]"):
        model.predict_proba(renamed)


def test_boosting_averages_its_bags_for_the_outcome_and_fits_groups_once(
    data: tuple[tuple[TabularInputs, np.ndarray, np.ndarray], ...],
) -> None:
    (x_train, y_train, g_train), (x_test, _, _) = data
    bagged = BaselineModel("boosting", seed=3, n_threads=1, bags=3).fit(x_train, y_train, g_train)
    singles = [
        BaselineModel("boosting", seed=s, n_threads=1, bags=1).fit(x_train, y_train, g_train)
        for s in (3, 4, 5)
    ]
    p_singles = [m.predict_proba(x_test) for m in singles]
    assert not np.allclose(p_singles[0], p_singles[1])  # the seeds' holdouts differ
    assert np.allclose(bagged.predict_proba(x_test), np.mean(p_singles, axis=0))
    assert np.array_equal(bagged.predict_groups(x_test), singles[0].predict_groups(x_test))
    loaded = BaselineModel.from_bytes(bagged.to_bytes())
    assert np.array_equal(loaded.predict_proba(x_test), bagged.predict_proba(x_test))
    with pytest.raises(ValueError, match="bags must be at least 1"):
        BaselineModel("boosting", bags=0)
