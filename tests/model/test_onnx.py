"""The exported ONNX model scores like PyTorch, on any lengths, without importing torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from roadtest.models.inputs import SequenceInputs
from roadtest.models.onnx_scorer import OnnxScorer
from roadtest.models.recurrent import FittedRecurrent, RecurrentConfig, export_onnx, fit_recurrent
from roadtest.models.synthetic import make_order_sequences

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["gru", "lstm"])
def exported(request: pytest.FixtureRequest) -> tuple[FittedRecurrent, bytes]:
    train = make_order_sequences(300, seed=21)
    valid = make_order_sequences(100, seed=22)
    config = RecurrentConfig(
        cell=request.param,
        hidden_size=16,
        embedding_dim=4,
        static_size=4,
        head_size=8,
        max_epochs=2,
    )
    model = fit_recurrent(
        train.inputs, train.y, train.y_groups, valid.inputs, valid.y, valid.y_groups, config
    )
    return model, export_onnx(model)


def test_onnx_matches_pytorch_on_mixed_lengths(exported: tuple[FittedRecurrent, bytes]) -> None:
    model, onnx_bytes = exported
    data = make_order_sequences(64, min_events=2, max_events=45, seed=23).inputs
    lengths = data.lengths.copy()
    lengths[:3] = [1, 2, data.categorical.shape[1]]
    inputs = SequenceInputs(data.categorical, data.numeric, lengths, data.static)
    p_torch, g_torch = model.predict(inputs)
    scorer = OnnxScorer(onnx_bytes, batch_size=16)
    p_onnx, g_onnx = scorer.predict(inputs)
    assert len(set(lengths.tolist())) > 20
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-5, rtol=0)
    np.testing.assert_allclose(g_onnx, g_torch, atol=1e-5, rtol=0)
    assert scorer.n_groups == model.n_groups == 3
    assert scorer.config == model.config.to_dict()


def test_scorer_refuses_foreign_inputs_and_bytes(exported: tuple[FittedRecurrent, bytes]) -> None:
    _, onnx_bytes = exported
    scorer = OnnxScorer(onnx_bytes)
    data = make_order_sequences(4, seed=24).inputs
    narrow = SequenceInputs(data.categorical[:, :, :1], data.numeric, data.lengths, data.static)
    with pytest.raises(ValueError, match=r"channels \(1, 2, 2\) but the model expects \(2, 2, 2\)"):
        scorer.predict(narrow)
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        OnnxScorer(b"not onnx")


def test_scorer_module_does_not_import_torch() -> None:
    code = (
        "import sys; import roadtest.models.onnx_scorer, roadtest.models; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
