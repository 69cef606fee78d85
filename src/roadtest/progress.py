"""How long-running work reports progress without knowing who shows it.

Pipelines take a ``Progress`` and call it; the CLI passes one backed by Rich
progress bars, tests and library callers pass ``NO_PROGRESS``.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives progress of named steps of a long job."""

    def start(self, step: str, total: int | None = None) -> None:
        """A step begins; ``total`` is its number of units when known."""

    def advance(self, step: str, amount: int = 1) -> None:
        """``amount`` more units of ``step`` are done."""

    def finish(self, step: str) -> None:
        """The step is complete."""


class _NoProgress:
    """Discards progress; for tests and library use."""

    def start(self, step: str, total: int | None = None) -> None:
        """Ignore the start of a step."""

    def advance(self, step: str, amount: int = 1) -> None:
        """Ignore progress."""

    def finish(self, step: str) -> None:
        """Ignore the end of a step."""


NO_PROGRESS: Progress = _NoProgress()
