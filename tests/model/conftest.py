"""Small synthetic data shared by the model tests, built once per session."""

from __future__ import annotations

import pytest

from roadtest.models.synthetic import SyntheticSequences, make_order_sequences


@pytest.fixture(scope="session")
def order_train() -> SyntheticSequences:
    return make_order_sequences(1500, seed=1)


@pytest.fixture(scope="session")
def order_valid() -> SyntheticSequences:
    return make_order_sequences(400, seed=2)


@pytest.fixture(scope="session")
def order_test() -> SyntheticSequences:
    return make_order_sequences(600, seed=3)
