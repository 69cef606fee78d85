"""The champion model the API scores with, kept current without dropping requests.

A background thread asks the registry every few seconds which version holds
the ``champion`` alias. When it moved, the new version is loaded beside the
one serving; only once it has loaded (and its reference scores are computed)
does one assignment swap it in. A request holds the model it started with, so
requests in flight finish on the old model and none is dropped. A version that
fails to load never replaces a working one: the error is counted in the
metrics and shown by ``/ready``, and that version is not retried until the
alias moves again (or a promotion asks for it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np
import polars as pl

from roadtest.serving.metrics import ApiMetrics

logger = logging.getLogger("roadtest.api")


class ScoringModel(Protocol):
    """What the API needs of a loaded champion (``training.scoring.LoadedModel``)."""

    @property
    def version(self) -> str:
        """Registered version."""

    @property
    def threshold(self) -> float:
        """Decision threshold on the failure probability."""

    @property
    def group_names(self) -> tuple[str, ...]:
        """Failure-group names, in the order of the group probabilities' columns."""

    def score(self, features: pl.DataFrame, events: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(P(fail) [N], P(group) [N, G]) of the vehicles of ``features``, in its row order."""


M = TypeVar("M", bound=ScoringModel)


@dataclass(frozen=True)
class Served(Generic[M]):
    """A loaded model together with the sorted scores of recent vehicles it ranks against."""

    model: M
    reference: np.ndarray

    def percentile(self, probabilities: np.ndarray) -> np.ndarray | None:
        """Percent of the reference vehicles scoring at or below each probability."""
        if self.reference.size == 0:
            return None
        ranks = np.searchsorted(self.reference, probabilities, side="right")
        return 100.0 * ranks / self.reference.size


class ModelHolder(Generic[M]):
    """Holds the serving model and swaps in a new champion when the alias moves."""

    def __init__(
        self,
        *,
        champion_version: Callable[[], str | None],
        load_model: Callable[[str], M],
        reference_scores: Callable[[M], np.ndarray],
        metrics: ApiMetrics,
        poll_seconds: float,
    ) -> None:
        self._champion_version = champion_version
        self._load_model = load_model
        self._reference_scores = reference_scores
        self._metrics = metrics
        self._poll_seconds = poll_seconds
        self._served: Served[M] | None = None
        self._failed_version: str | None = None
        self.load_error: str | None = None
        """Why the latest champion could not be loaded (None once a load succeeds)."""
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def served(self) -> Served[M] | None:
        """The model serving now (None before the first successful load)."""
        return self._served

    @property
    def version(self) -> str | None:
        """Version serving now."""
        return None if self._served is None else self._served.model.version

    def refresh(self, *, force: bool = False) -> bool:
        """Load the champion if the alias moved; True when a new model was swapped in.

        ``force`` also retries a version that failed before (after a promotion).
        """
        with self._refresh_lock:
            try:
                wanted = self._champion_version()
            except Exception as error:
                logger.warning("registry unreachable", extra={"error": type(error).__name__})
                return False
            if wanted is None or wanted == self.version:
                return False
            if wanted == self._failed_version and not force:
                return False
            return self._load(wanted)

    def rescore_reference(self) -> None:
        """Recompute the reference scores (after new vehicles reached the warehouse)."""
        with self._refresh_lock:
            served = self._served
            if served is not None:
                reference = np.sort(self._reference_scores(served.model))
                self._served = Served(served.model, reference)

    def _load(self, wanted: str) -> bool:
        try:
            model = self._load_model(wanted)
            reference = np.sort(self._reference_scores(model))
        except Exception as error:
            self._failed_version = wanted
            self.load_error = f"version {wanted} could not be loaded: {error}"
            self._metrics.load_errors.inc()
            logger.error("model load failed", extra={"model_version": wanted, "error": str(error)})
            return False
        self._served = Served(model, reference)
        self._failed_version = None
        self.load_error = None
        self._metrics.model_loads.inc()
        self._metrics.set_champion(model.version)
        logger.info("model serving", extra={"model_version": model.version})
        return True

    def start(self) -> None:
        """Load the champion now and keep polling the alias in a daemon thread."""
        self.refresh()
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="champion-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (waits for the thread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._poll_seconds + 5)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            self.refresh()
