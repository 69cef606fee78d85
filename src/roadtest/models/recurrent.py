"""GRU and LSTM models over a vehicle's event sequence (PyTorch, CPU).

The network embeds each categorical channel, appends the numeric channels and
reads the events with a one-layer unidirectional GRU or LSTM. A vehicle is
summarised by the RNN output at its last real event (index ``length - 1``)
and the mean output over its real events; both ignore padding, and because
the RNN reads left to right, padding after a vehicle's events cannot change
them. The same padded forward serves training, prediction and ONNX export,
so the exported graph is the trained graph and handles any length.
Batches are grouped by length so padding costs little (on CPU the fused
padded RNN is several times faster than packed sequences).

Two heads share the summary: P(road-test failure) and one sigmoid per failure
group. Class imbalance is handled by the loss: positives are weighted by
``pos_weight`` (default sqrt(negatives / positives)) with an optional focal
term. Weighting multiplies the odds the network learns by ``pos_weight``; the
prediction subtracts ``log(pos_weight)`` from the logit to undo it, and, by
default, a two-parameter Platt scaling fitted on the validation vehicles
calibrates the main head. Early stopping keeps the epoch with the best
validation PR-AUC (or loss).

Training is reproducible: a fixed seed, deterministic kernels and a fixed
thread count (``num_threads``, default 1). One thread is the default because
torch's OpenMP threads spin while waiting: on a shared machine (CI, a laptop
running the platform) two threads ran a training up to 25 times slower than
one, while on a lightly loaded machine they gained about 20 % on the RNN step.

Only this module of ``roadtest.models`` imports torch.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from torch import nn
from torch.nn import functional

from roadtest.models.inputs import (
    ONNX_INPUT_NAMES,
    ONNX_OUTPUT_NAMES,
    UNKNOWN_CODE,
    SequenceInputs,
    check_labels,
)

CellKind = Literal["gru", "lstm"]
StoppingMetric = Literal["pr_auc", "loss"]

_FORMAT = "roadtest.recurrent/1"
_MAX_POS_WEIGHT = 50.0
_PLATT_MIN_CASES = 5


@dataclass(frozen=True)
class RecurrentConfig:
    """Architecture and training settings of a GRU/LSTM model; defaults suit one plant.

    embedding_dim: the largest embedding of a categorical channel; a channel with
        a small vocabulary gets round(1.6 * size ** 0.56) dimensions if fewer.
    pos_weight: weight of a failing vehicle in the loss (None: sqrt(negatives /
        positives) per target, capped at 50); undone at prediction time.
    focal_gamma: > 0 adds the focal factor (1 - p_true)^gamma; the weighting
        correction is then approximate, so only Platt scaling (``calibrate``)
        calibrates the main head and the group probabilities rank but are not
        calibrated.
    early_stopping: "pr_auc" (main head, validation) or "loss" (validation loss).
    calibrate: fit Platt scaling of the main head on the validation vehicles.
    num_threads: torch threads during fit and predict (see the module doc).
    """

    cell: CellKind = "gru"
    hidden_size: int = 64
    embedding_dim: int = 16
    static_size: int = 32
    head_size: int = 64
    dropout: float = 0.1
    batch_size: int = 128
    max_epochs: int = 12
    patience: int = 3
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    pos_weight: float | None = None
    focal_gamma: float = 0.0
    group_loss_weight: float = 0.5
    early_stopping: StoppingMetric = "pr_auc"
    calibrate: bool = True
    max_grad_norm: float = 1.0
    seed: int = 0
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {self.cell!r}")
        if self.early_stopping not in ("pr_auc", "loss"):
            raise ValueError(
                f"early_stopping must be 'pr_auc' or 'loss', got {self.early_stopping!r}"
            )
        for name in ("hidden_size", "embedding_dim", "static_size", "head_size", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_epochs < 1 or self.patience < 1 or self.num_threads < 1:
            raise ValueError("max_epochs, patience and num_threads must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must lie in [0, 1)")
        if self.learning_rate <= 0 or self.weight_decay < 0 or self.max_grad_norm <= 0:
            raise ValueError("learning_rate and max_grad_norm must be > 0, weight_decay >= 0")
        if self.pos_weight is not None and self.pos_weight <= 0:
            raise ValueError("pos_weight must be > 0 (or None for sqrt(negatives / positives))")
        if self.focal_gamma < 0 or self.group_loss_weight < 0:
            raise ValueError("focal_gamma and group_loss_weight must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for MLflow parameters and the saved model."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RecurrentConfig:
        """The config of ``to_dict``; unknown keys are an error, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown recurrent settings: {unknown}")
        return cls(**values)


@dataclass(frozen=True)
class EpochLog:
    """What one training epoch achieved, for progress display and the run's history."""

    epoch: int
    train_loss: float
    valid_loss: float
    valid_pr_auc: float
    seconds: float
    improved: bool


@dataclass(frozen=True)
class _Architecture:
    """Shapes fixed at fit time that the saved weights depend on."""

    cardinalities: tuple[int, ...]
    n_numeric: int
    n_static: int
    n_groups: int


class _SequenceNet(nn.Module):
    """Embeddings → RNN → (last output, masked mean) + static MLP → two heads."""

    cardinalities: torch.Tensor
    main_scale: torch.Tensor
    main_offset: torch.Tensor
    group_offset: torch.Tensor

    def __init__(self, arch: _Architecture, config: RecurrentConfig) -> None:
        super().__init__()
        dims = [
            min(config.embedding_dim, max(2, round(1.6 * card**0.56)))
            for card in arch.cardinalities
        ]
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, dim, padding_idx=0)
            for card, dim in zip(arch.cardinalities, dims, strict=True)
        )
        rnn_class = nn.GRU if config.cell == "gru" else nn.LSTM
        self.rnn = rnn_class(sum(dims) + arch.n_numeric, config.hidden_size, batch_first=True)
        self.static = nn.Sequential(nn.Linear(arch.n_static, config.static_size), nn.ReLU())
        self.trunk = nn.Sequential(
            nn.Linear(2 * config.hidden_size + config.static_size, config.head_size),
            nn.ReLU(),
            nn.Dropout(config.dropout),
        )
        self.main_head = nn.Linear(config.head_size, 1)
        self.group_head = nn.Linear(config.head_size, arch.n_groups)
        self.register_buffer("cardinalities", torch.tensor(arch.cardinalities, dtype=torch.int64))
        self.register_buffer("main_scale", torch.ones(()))
        self.register_buffer("main_offset", torch.zeros(()))
        self.register_buffer("group_offset", torch.zeros(arch.n_groups))

    def logits(
        self,
        categorical: torch.Tensor,
        numeric: torch.Tensor,
        lengths: torch.Tensor,
        static: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw training logits: main [N] and groups [N, G]."""
        known = torch.where(
            categorical < self.cardinalities,
            categorical,
            torch.full_like(categorical, UNKNOWN_CODE),
        )
        embedded = [emb(known[:, :, c]) for c, emb in enumerate(self.embeddings)]
        outputs, _ = self.rnn(torch.cat([*embedded, numeric], dim=2))
        last_index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[2])
        last = outputs.gather(1, last_index).squeeze(1)
        steps = torch.arange(outputs.shape[1], device=outputs.device)
        mask = (steps.unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2).to(outputs.dtype)
        mean = (outputs * mask).sum(dim=1) / lengths.unsqueeze(1).to(outputs.dtype)
        hidden = self.trunk(torch.cat([last, mean, self.static(static)], dim=1))
        return self.main_head(hidden).squeeze(1), self.group_head(hidden)

    def forward(
        self,
        categorical: torch.Tensor,
        numeric: torch.Tensor,
        lengths: torch.Tensor,
        static: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Calibrated probabilities: P(fail) [N] and P(group) [N, G]."""
        main, groups = self.logits(categorical, numeric, lengths, static)
        p_fail = torch.sigmoid(self.main_scale * main + self.main_offset)
        return p_fail, torch.sigmoid(groups + self.group_offset)


@contextmanager
def _torch_runtime(num_threads: int, seed: int | None = None) -> Iterator[None]:
    """Fixed threads and deterministic kernels for the duration, restored afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True)
    if seed is not None:
        torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _tensors(inputs: SequenceInputs) -> tuple[torch.Tensor, ...]:
    """The four model inputs as tensors (sharing memory with the arrays)."""
    return (
        torch.from_numpy(inputs.categorical),
        torch.from_numpy(inputs.numeric),
        torch.from_numpy(inputs.lengths),
        torch.from_numpy(inputs.static),
    )


class FittedRecurrent:
    """A trained GRU/LSTM with its settings and training history."""

    def __init__(
        self,
        net: _SequenceNet,
        arch: _Architecture,
        config: RecurrentConfig,
        history: tuple[EpochLog, ...],
        best_epoch: int,
    ) -> None:
        self._net = net.eval()
        self._arch = arch
        self.config = config
        self.history = history
        self.best_epoch = best_epoch

    @property
    def n_groups(self) -> int:
        """Number of failure groups the group head scores."""
        return self._arch.n_groups

    def predict(
        self, inputs: SequenceInputs, batch_size: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        """(P(fail) [N], P(group) [N, G]) as float64 arrays."""
        _check_shapes(inputs, self._arch)
        return _predict_raw(self._net, inputs, batch_size, self.config.num_threads)

    def to_bytes(self) -> bytes:
        """Weights, settings and history as bytes, for the registry to store."""
        payload = {
            "format": _FORMAT,
            "config": self.config.to_dict(),
            "architecture": asdict(self._arch),
            "history": [asdict(log) for log in self.history],
            "best_epoch": self.best_epoch,
            "state": self._net.state_dict(),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FittedRecurrent:
        """A model saved by ``to_bytes``; loads tensors and plain values only."""
        try:
            payload = torch.load(io.BytesIO(data), weights_only=True)
        except Exception as error:
            raise ValueError("these bytes are not a saved roadtest recurrent model") from error
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"these bytes are not a saved roadtest recurrent model ({_FORMAT})")
        config = RecurrentConfig.from_dict(payload["config"])
        raw_arch = payload["architecture"]
        arch = _Architecture(
            cardinalities=tuple(raw_arch["cardinalities"]),
            n_numeric=raw_arch["n_numeric"],
            n_static=raw_arch["n_static"],
            n_groups=raw_arch["n_groups"],
        )
        net = _SequenceNet(arch, config)
        net.load_state_dict(payload["state"])
        history = tuple(EpochLog(**log) for log in payload["history"])
        return cls(net, arch, config, history, payload["best_epoch"])


def _check_shapes(inputs: SequenceInputs, arch: _Architecture) -> None:
    """Refuse inputs built with other feature settings than the training inputs."""
    expected = (len(arch.cardinalities), arch.n_numeric, arch.n_static)
    got = (inputs.n_categorical, inputs.n_numeric, inputs.n_static)
    if got != expected:
        raise ValueError(
            f"inputs have (categorical, numeric, static) channels {got} but the model was "
            f"trained on {expected}; build features with the model's feature settings"
        )


def _predict_raw(
    net: _SequenceNet, inputs: SequenceInputs, batch_size: int, num_threads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities in length-sorted batches (less padding), returned in input order."""
    p_fail = np.empty(inputs.n_vehicles)
    p_groups = np.empty((inputs.n_vehicles, net.group_head.out_features))
    net.eval()
    with _torch_runtime(num_threads), torch.inference_mode():
        for index in _sorted_chunks(inputs.lengths, batch_size):
            fail, groups = net(*_tensors(inputs.take(index)))
            p_fail[index] = fail.numpy()
            p_groups[index] = groups.numpy()
    return p_fail, p_groups


def _length_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Batches of similar length in random order: shuffle, sort within chunks, split."""
    shuffled = rng.permutation(lengths.shape[0])
    chunk = batch_size * 32
    batches: list[np.ndarray] = []
    for start in range(0, shuffled.shape[0], chunk):
        part = shuffled[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, part.shape[0], batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _balance_weight(positives: float, total: float, override: float | None) -> float:
    """Weight of a positive case: sqrt(neg/pos), capped; 1 when a target has no positives."""
    if override is not None:
        return override
    if positives == 0 or positives == total:
        return 1.0
    return min(math.sqrt((total - positives) / positives), _MAX_POS_WEIGHT)


def _weighted_loss(
    logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Weighted binary cross-entropy, with a focal factor (1 - p_t)^gamma when gamma > 0."""
    loss = functional.binary_cross_entropy_with_logits(
        logits, target, pos_weight=pos_weight, reduction="none"
    )
    if gamma > 0:
        p = torch.sigmoid(logits)
        p_true = p * target + (1 - p) * (1 - target)
        loss = loss * (1 - p_true).pow(gamma)
    return loss.mean()


@dataclass(frozen=True)
class _Targets:
    """Labels and per-target positive weights as tensors."""

    main: torch.Tensor
    groups: torch.Tensor
    main_weight: torch.Tensor
    group_weight: torch.Tensor


def _batch_loss(
    net: _SequenceNet,
    inputs: SequenceInputs,
    index: np.ndarray,
    targets: _Targets,
    config: RecurrentConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss of one batch and its main logits."""
    main, groups = net.logits(*_tensors(inputs.take(index)))
    rows = torch.from_numpy(index)
    loss = _weighted_loss(main, targets.main[rows], targets.main_weight, config.focal_gamma)
    group_loss = _weighted_loss(
        groups, targets.groups[rows], targets.group_weight, config.focal_gamma
    )
    return loss + config.group_loss_weight * group_loss, main


def _validate(
    net: _SequenceNet, inputs: SequenceInputs, targets: _Targets, config: RecurrentConfig
) -> tuple[float, float]:
    """Validation loss and PR-AUC of the main head."""
    net.eval()
    logits = np.empty(inputs.n_vehicles)
    total = 0.0
    with torch.inference_mode():
        for index in _sorted_chunks(inputs.lengths):
            loss, main = _batch_loss(net, inputs, index, targets, config)
            total += float(loss.detach()) * index.shape[0]
            logits[index] = main.numpy()
    labels = targets.main.numpy()
    pr_auc = float(average_precision_score(labels, logits)) if labels.max() > 0 else float("nan")
    return total / inputs.n_vehicles, pr_auc


def _sorted_chunks(lengths: np.ndarray, size: int = 1024) -> Iterator[np.ndarray]:
    """Vehicle indices in chunks of similar length, for inference with little padding."""
    order = np.argsort(lengths, kind="stable")
    for start in range(0, order.shape[0], size):
        yield order[start : start + size]


def _main_logits(net: _SequenceNet, inputs: SequenceInputs) -> np.ndarray:
    """Raw main-head logits of every vehicle, in input order."""
    net.eval()
    logits = np.empty(inputs.n_vehicles)
    with torch.inference_mode():
        for index in _sorted_chunks(inputs.lengths):
            main, _ = net.logits(*_tensors(inputs.take(index)))
            logits[index] = main.numpy()
    return logits


def _make_targets(
    y: np.ndarray, y_groups: np.ndarray, weights: tuple[float, np.ndarray]
) -> _Targets:
    return _Targets(
        main=torch.from_numpy(y.astype(np.float32)),
        groups=torch.from_numpy(y_groups.astype(np.float32)),
        main_weight=torch.tensor(weights[0], dtype=torch.float32),
        group_weight=torch.from_numpy(weights[1].astype(np.float32)),
    )


def _architecture(train: SequenceInputs, n_groups: int) -> _Architecture:
    """Vocabulary sizes from training: a code first seen later maps to "unknown"."""
    cardinalities = tuple(
        max(int(train.categorical[:, :, c].max()) + 1, UNKNOWN_CODE + 1)
        for c in range(train.n_categorical)
    )
    return _Architecture(cardinalities, train.n_numeric, train.n_static, n_groups)


def _improved(config: RecurrentConfig, loss: float, pr_auc: float, best: float) -> bool:
    if config.early_stopping == "pr_auc":
        return pr_auc > best + 1e-6
    return loss < best - 1e-6


def _platt(logits: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    """Scale and offset mapping logits to calibrated ones, fitted on validation."""
    positives = int(y.sum())
    if min(positives, y.shape[0] - positives) < _PLATT_MIN_CASES:
        return 1.0, 0.0
    model = LogisticRegression(C=1e4, max_iter=1000, random_state=seed)
    model.fit(logits.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def fit_recurrent(
    train: SequenceInputs,
    y: np.ndarray,
    y_groups: np.ndarray,
    valid: SequenceInputs,
    y_valid: np.ndarray,
    y_groups_valid: np.ndarray,
    config: RecurrentConfig | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> FittedRecurrent:
    """Train a GRU/LSTM on ``train`` with early stopping on ``valid`` (the newer vehicles).

    ``y`` [N] is the road-test outcome, ``y_groups`` [N, G] the failure groups
    (G >= 1; without group data pass ``y[:, None]``). ``on_epoch`` receives
    each epoch's log as soon as it ends. Same data and config give the same model.
    """
    config = config or RecurrentConfig()
    labels, groups = _checked_labels(train, y, y_groups, "training")
    valid_labels, valid_groups = _checked_labels(valid, y_valid, y_groups_valid, "validation")
    if groups.shape[1] != valid_groups.shape[1]:
        raise ValueError(
            f"training has {groups.shape[1]} failure groups, validation {valid_groups.shape[1]}"
        )
    if labels.min() == labels.max():
        raise ValueError(
            "the training window holds only one outcome (all passed or all failed); widen it"
        )
    if config.early_stopping == "pr_auc" and valid_labels.max() == 0:
        raise ValueError(
            "the validation window has no failing vehicle, so PR-AUC cannot pick the best epoch; "
            "widen the window or use early_stopping='loss'"
        )
    arch = _architecture(train, groups.shape[1])
    _check_shapes(valid, arch)
    weights = (
        _balance_weight(labels.sum(), labels.shape[0], config.pos_weight),
        np.array([_balance_weight(col.sum(), col.shape[0], config.pos_weight) for col in groups.T]),
    )
    with _torch_runtime(config.num_threads, config.seed):
        net = _SequenceNet(arch, config)
        history, best_epoch = _train(
            net,
            (train, _make_targets(labels, groups, weights)),
            (valid, _make_targets(valid_labels, valid_groups, weights)),
            config,
            on_epoch,
        )
        _set_calibration(net, valid, valid_labels, weights, config)
    return FittedRecurrent(net, arch, config, history, best_epoch)


def _checked_labels(
    inputs: SequenceInputs, y: np.ndarray, y_groups: np.ndarray, window: str
) -> tuple[np.ndarray, np.ndarray]:
    labels, groups = check_labels(y, y_groups, inputs.n_vehicles)
    if groups is None or groups.shape[1] == 0:
        raise ValueError(
            f"{window} needs at least one failure-group column; without group data pass y[:, None]"
        )
    return labels, groups


def _train(
    net: _SequenceNet,
    train: tuple[SequenceInputs, _Targets],
    valid: tuple[SequenceInputs, _Targets],
    config: RecurrentConfig,
    on_epoch: Callable[[EpochLog], None] | None,
) -> tuple[tuple[EpochLog, ...], int]:
    """Epochs until ``patience`` epochs pass without improvement; keeps the best weights."""
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    rng = np.random.default_rng(config.seed)
    history: list[EpochLog] = []
    best_score = -math.inf if config.early_stopping == "pr_auc" else math.inf
    best_state = copy.deepcopy(net.state_dict())
    best_epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        started = time.perf_counter()
        train_loss = _train_epoch(net, optimizer, train, config, rng)
        valid_loss, pr_auc = _validate(net, valid[0], valid[1], config)
        improved = _improved(config, valid_loss, pr_auc, best_score)
        if improved:
            best_score = pr_auc if config.early_stopping == "pr_auc" else valid_loss
            best_state = copy.deepcopy(net.state_dict())
            best_epoch = epoch
        log = EpochLog(
            epoch, train_loss, valid_loss, pr_auc, time.perf_counter() - started, improved
        )
        history.append(log)
        if on_epoch is not None:
            on_epoch(log)
        if epoch - best_epoch >= config.patience:
            break
    net.load_state_dict(best_state)
    return tuple(history), best_epoch


def _train_epoch(
    net: _SequenceNet,
    optimizer: torch.optim.Optimizer,
    train: tuple[SequenceInputs, _Targets],
    config: RecurrentConfig,
    rng: np.random.Generator,
) -> float:
    """One pass over the training vehicles; returns the mean training loss."""
    inputs, targets = train
    net.train()
    total = 0.0
    for index in _length_batches(inputs.lengths, config.batch_size, rng):
        optimizer.zero_grad()
        loss, _ = _batch_loss(net, inputs, index, targets, config)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
        optimizer.step()
        total += float(loss.detach()) * index.shape[0]
    return total / inputs.n_vehicles


def _set_calibration(
    net: _SequenceNet,
    valid: SequenceInputs,
    valid_labels: np.ndarray,
    weights: tuple[float, np.ndarray],
    config: RecurrentConfig,
) -> None:
    """Undo the positive weighting in the logits, then Platt-scale the main head."""
    main_offset = -math.log(weights[0])
    scale, offset = 1.0, 0.0
    if config.calibrate:
        scale, offset = _platt(_main_logits(net, valid) + main_offset, valid_labels, config.seed)
    with torch.no_grad():
        net.main_scale.fill_(scale)
        net.main_offset.fill_(scale * main_offset + offset)
        net.group_offset.copy_(torch.from_numpy(-np.log(weights[1]).astype(np.float32)))


def export_onnx(fitted: FittedRecurrent) -> bytes:
    """The model as ONNX bytes: inputs categorical/numeric/lengths/static, outputs p_fail/p_groups.

    Batch and time axes are dynamic, so one file scores any number of vehicles of any length.
    The TorchScript exporter is used because the dynamo exporter, in a process that had
    already traced other models, specialised the time axis to the example's length, and
    the served model then refused every other length.
    """
    net = fitted._net.eval()
    arch = fitted._arch
    example = _example_inputs(arch)
    dynamic_axes = {
        "categorical": {0: "batch", 1: "time"},
        "numeric": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        "static": {0: "batch"},
        "p_fail": {0: "batch"},
        "p_groups": {0: "batch"},
    }
    with (
        tempfile.TemporaryDirectory() as folder,
        warnings.catch_warnings(),
        _quiet_exporter(),
        _torch_runtime(fitted.config.num_threads),
    ):
        warnings.simplefilter("ignore")
        path = Path(folder) / "model.onnx"
        torch.onnx.export(
            net,
            example,
            path,
            input_names=list(ONNX_INPUT_NAMES),
            output_names=list(ONNX_OUTPUT_NAMES),
            dynamic_axes=dynamic_axes,
            dynamo=False,
        )
        model = onnx.load(path)
    metadata = {
        "roadtest.format": "roadtest.onnx/1",
        "roadtest.config": json.dumps(fitted.config.to_dict()),
        "roadtest.architecture": json.dumps(asdict(arch)),
    }
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return bytes(model.SerializeToString())


def _example_inputs(arch: _Architecture) -> tuple[torch.Tensor, ...]:
    """Example inputs of 3 vehicles x 5 events (sizes above 1 keep the axes symbolic)."""
    n, t = 3, 5
    return (
        torch.ones((n, t, len(arch.cardinalities)), dtype=torch.int64),
        torch.zeros((n, t, arch.n_numeric), dtype=torch.float32),
        torch.tensor([t, 2, 1], dtype=torch.int64),
        torch.zeros((n, arch.n_static), dtype=torch.float32),
    )


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's informational log lines while it runs."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
