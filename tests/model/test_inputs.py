"""The input contract refuses malformed arrays with a message naming the problem."""

from __future__ import annotations

import numpy as np
import pytest

from roadtest.models.inputs import SequenceInputs, TabularInputs, check_labels


def make_sequences(n: int = 3, t: int = 4, lengths: list[int] | None = None) -> SequenceInputs:
    return SequenceInputs(
        categorical=np.ones((n, t, 2), dtype=np.int32),
        numeric=np.zeros((n, t, 3)),
        lengths=np.array(lengths or [t] * n),
        static=np.zeros((n, 2)),
    )


def test_sequences_are_converted_to_the_contract_dtypes() -> None:
    inputs = make_sequences()
    assert inputs.categorical.dtype == np.int64
    assert inputs.numeric.dtype == np.float32
    assert inputs.lengths.dtype == np.int64
    assert inputs.static.dtype == np.float32
    assert (inputs.n_vehicles, inputs.n_categorical, inputs.n_numeric, inputs.n_static) == (
        3,
        2,
        3,
        2,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lengths": np.array([4, 0, 2])}, "lengths must lie between 1"),
        ({"lengths": np.array([5, 1, 2])}, "lengths must lie between 1"),
        ({"lengths": np.array([4, 1])}, "one row per vehicle"),
        ({"numeric": np.full((3, 4, 3), np.nan)}, "numeric has 36 missing"),
        ({"static": np.array([[0.0, np.inf]] * 3)}, "static has 3 missing or infinite"),
        ({"categorical": np.full((3, 4, 2), 1.5)}, "categorical must hold numbers"),
        ({"categorical": np.full((3, 4, 2), -1)}, "must be >= 0"),
        ({"categorical": np.ones((3, 4, 0), dtype=np.int64)}, "at least one channel"),
        ({"numeric": np.zeros((3, 5, 3))}, "must share vehicles and events"),
        ({"static": np.zeros(3)}, "static must have 2 dimensions"),
    ],
)
def test_malformed_sequences_are_refused(change: dict[str, np.ndarray], message: str) -> None:
    good = make_sequences(lengths=[4, 1, 2])
    arrays = {
        "categorical": good.categorical,
        "numeric": good.numeric,
        "lengths": good.lengths,
        "static": good.static,
    }
    with pytest.raises(ValueError, match=message):
        SequenceInputs(**(arrays | change))


def test_take_pads_only_to_the_longest_vehicle_taken() -> None:
    inputs = make_sequences(lengths=[4, 1, 2])
    subset = inputs.take(np.array([2, 1]))
    assert subset.categorical.shape == (2, 2, 2)
    assert subset.lengths.tolist() == [2, 1]


def test_tabular_inputs_check_names_and_values() -> None:
    table = TabularInputs(np.array([[1, np.nan]]), ("a", "b"))
    assert table.features.dtype == np.float32
    assert table.take(np.array([0, 0])).n_vehicles == 2
    with pytest.raises(ValueError, match="2 columns but 1 feature names"):
        TabularInputs(np.zeros((1, 2)), ("a",))
    with pytest.raises(ValueError, match=r"repeated: \['a'\]"):
        TabularInputs(np.zeros((1, 2)), ("a", "a"))
    with pytest.raises(ValueError, match="infinite"):
        TabularInputs(np.array([[np.inf]]), ("a",))


def test_labels_must_be_binary_and_consistent() -> None:
    y, groups = check_labels(np.array([1, 0]), np.array([[1, 0], [0, 0]]), 2)
    assert y.tolist() == [1, 0]
    assert groups is not None
    with pytest.raises(ValueError, match="only 0"):
        check_labels(np.array([2, 0]), None, 2)
    with pytest.raises(ValueError, match="3 labels for 2 vehicles"):
        check_labels(np.array([1, 0, 0]), None, 2)
    with pytest.raises(ValueError, match="1 vehicles have a failure group but did not fail"):
        check_labels(np.array([1, 0]), np.array([[1, 0], [0, 1]]), 2)
