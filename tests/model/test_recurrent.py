"""The GRU/LSTM read event order, handle imbalance, and are reproducible and saveable."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from roadtest.models.baseline import BaselineModel
from roadtest.models.inputs import SequenceInputs
from roadtest.models.recurrent import EpochLog, FittedRecurrent, RecurrentConfig, fit_recurrent
from roadtest.models.synthetic import SyntheticSequences, make_order_sequences

SMALL = RecurrentConfig(hidden_size=32, embedding_dim=8, static_size=8, head_size=32)


def fit(
    train: SyntheticSequences,
    valid: SyntheticSequences,
    config: RecurrentConfig = SMALL,
    on_epoch: list[EpochLog] | None = None,
) -> FittedRecurrent:
    return fit_recurrent(
        train.inputs,
        train.y,
        train.y_groups,
        valid.inputs,
        valid.y,
        valid.y_groups,
        config=config,
        on_epoch=None if on_epoch is None else on_epoch.append,
    )


@pytest.fixture(scope="module")
def fitted_gru(
    order_train: SyntheticSequences, order_valid: SyntheticSequences
) -> tuple[FittedRecurrent, list[EpochLog]]:
    logs: list[EpochLog] = []
    config = RecurrentConfig(
        hidden_size=32, embedding_dim=8, static_size=8, head_size=32, max_epochs=25, patience=2
    )
    return fit(order_train, order_valid, config, logs), logs


@pytest.mark.slow
def test_gru_reads_order_that_counts_cannot_reveal(
    fitted_gru: tuple[FittedRecurrent, list[EpochLog]],
    order_train: SyntheticSequences,
    order_test: SyntheticSequences,
) -> None:
    model, _ = fitted_gru
    counts = BaselineModel("logistic").fit(order_train.counts, order_train.y)
    counts_auc = roc_auc_score(order_test.y, counts.predict_proba(order_test.counts))
    p_fail, p_groups = model.predict(order_test.inputs)
    assert abs(counts_auc - 0.5) < 0.08
    assert roc_auc_score(order_test.y, p_fail) > 0.9
    assert p_groups.shape == (600, 3)
    assert roc_auc_score(order_test.y_groups[:, 0], p_groups[:, 0]) > 0.7


@pytest.mark.slow
def test_training_reports_each_epoch_and_stops_early(
    fitted_gru: tuple[FittedRecurrent, list[EpochLog]],
) -> None:
    model, logs = fitted_gru
    assert [log.epoch for log in logs] == list(range(1, len(logs) + 1))
    assert tuple(logs) == model.history
    assert len(logs) < 25
    assert len(logs) == model.best_epoch + 2
    assert logs[model.best_epoch - 1].improved
    assert not any(log.improved for log in logs[model.best_epoch :])
    assert logs[model.best_epoch - 1].valid_pr_auc == max(log.valid_pr_auc for log in logs)


@pytest.mark.slow
def test_lstm_reads_order(order_train: SyntheticSequences, order_test: SyntheticSequences) -> None:
    valid = make_order_sequences(300, seed=12)
    config = RecurrentConfig(cell="lstm", hidden_size=24, embedding_dim=8, static_size=8)
    model = fit(order_train, valid, config)
    p_fail, _ = model.predict(order_test.inputs)
    assert roc_auc_score(order_test.y, p_fail) > 0.9


def test_same_seed_same_model_other_seed_other_model() -> None:
    train = make_order_sequences(300, seed=4)
    valid = make_order_sequences(100, seed=5)
    config = RecurrentConfig(
        hidden_size=8, embedding_dim=4, static_size=4, head_size=8, max_epochs=2
    )
    first = fit(train, valid, config).predict(valid.inputs)
    second = fit(train, valid, config).predict(valid.inputs)
    other = fit(train, valid, RecurrentConfig(**(config.to_dict() | {"seed": 1}))).predict(
        valid.inputs
    )
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])
    assert not np.allclose(first[0], other[0])


@pytest.mark.slow
def test_rare_failures_do_not_collapse_to_the_prior() -> None:
    train = make_order_sequences(3000, positive_rate=0.05, seed=6)
    valid = make_order_sequences(1000, positive_rate=0.05, seed=7)
    test = make_order_sequences(2000, positive_rate=0.05, seed=8)
    model = fit(train, valid)
    p_fail, _ = model.predict(test.inputs)
    assert roc_auc_score(test.y, p_fail) > 0.9
    assert p_fail[test.y == 1].mean() > 5 * p_fail[test.y == 0].mean()
    assert abs(p_fail.mean() - test.y.mean()) < 0.03


def test_padding_and_batching_do_not_change_predictions(
    order_train: SyntheticSequences, order_valid: SyntheticSequences
) -> None:
    config = RecurrentConfig(
        hidden_size=8, embedding_dim=4, static_size=4, head_size=8, max_epochs=1
    )
    model = fit(order_train, order_valid, config)
    inputs = order_valid.inputs
    padded = SequenceInputs(
        np.pad(inputs.categorical, ((0, 0), (0, 7), (0, 0)), constant_values=5),
        np.pad(inputs.numeric, ((0, 0), (0, 7), (0, 0)), constant_values=3.0),
        inputs.lengths,
        inputs.static,
    )
    p_fail, p_groups = model.predict(inputs)
    p_padded, g_padded = model.predict(padded, batch_size=7)
    alone, _ = model.predict(inputs.take(np.array([5])))
    np.testing.assert_allclose(p_padded, p_fail, atol=1e-6)
    np.testing.assert_allclose(g_padded, p_groups, atol=1e-6)
    np.testing.assert_allclose(alone, p_fail[5:6], atol=1e-6)

    unseen = inputs.categorical.copy()
    unseen[:, 0, 1] = 999
    as_unknown = inputs.categorical.copy()
    as_unknown[:, 0, 1] = 1
    replace = {"numeric": inputs.numeric, "lengths": inputs.lengths, "static": inputs.static}
    p_unseen, _ = model.predict(SequenceInputs(categorical=unseen, **replace))
    p_unknown, _ = model.predict(SequenceInputs(categorical=as_unknown, **replace))
    np.testing.assert_array_equal(p_unseen, p_unknown)


def test_saved_model_predicts_the_same(
    order_train: SyntheticSequences, order_valid: SyntheticSequences
) -> None:
    config = RecurrentConfig(
        cell="lstm", hidden_size=8, embedding_dim=4, static_size=4, head_size=8, max_epochs=1
    )
    model = fit(order_train, order_valid, config)
    loaded = FittedRecurrent.from_bytes(model.to_bytes())
    assert loaded.config == config
    assert loaded.history == model.history
    ours, theirs = model.predict(order_valid.inputs), loaded.predict(order_valid.inputs)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    with pytest.raises(ValueError, match="not a saved roadtest recurrent model"):
        FittedRecurrent.from_bytes(b"junk")


def test_recurrent_refuses_bad_training_data(
    order_train: SyntheticSequences, order_valid: SyntheticSequences
) -> None:
    train, valid = order_train, order_valid
    with pytest.raises(ValueError, match="at least one failure-group column"):
        fit_recurrent(
            train.inputs,
            train.y,
            train.y_groups[:, :0],
            valid.inputs,
            valid.y,
            valid.y_groups[:, :0],
        )
    with pytest.raises(ValueError, match="no failing vehicle"):
        fit_recurrent(
            train.inputs,
            train.y,
            train.y_groups,
            valid.inputs,
            np.zeros_like(valid.y),
            np.zeros_like(valid.y_groups),
        )
    with pytest.raises(ValueError, match="training has 3 failure groups, validation 2"):
        fit_recurrent(
            train.inputs, train.y, train.y_groups, valid.inputs, valid.y, valid.y_groups[:, :2]
        )
    with pytest.raises(ValueError, match="cell must be"):
        RecurrentConfig(cell="rnn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown recurrent settings"):
        RecurrentConfig.from_dict({"layers": 3})


def test_predict_refuses_inputs_of_other_feature_settings(
    order_train: SyntheticSequences, order_valid: SyntheticSequences
) -> None:
    config = RecurrentConfig(
        hidden_size=8, embedding_dim=4, static_size=4, head_size=8, max_epochs=1
    )
    model = fit(order_train, order_valid, config)
    inputs = order_valid.inputs
    wider = SequenceInputs(
        inputs.categorical, inputs.numeric, inputs.lengths, np.zeros((inputs.n_vehicles, 5))
    )
    with pytest.raises(
        ValueError, match=r"channels \(2, 2, 5\) but the model was trained on \(2, 2, 2\)"
    ):
        model.predict(wider)
