"""The fitted feature spec saved with a model: everything inference needs, as JSON.

No pickles: the spec is plain JSON with a format version, so a model
registry entry can be read, diffed and loaded by a serving image that has
neither the training code's classes nor torch. Floats are written with
Python's shortest round-trip representation, so a loaded spec builds
bit-identical arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from roadtest.features.sequence import SequenceConfig, SequenceSpec, fit_sequence_spec
from roadtest.features.tabular import TabularConfig, TabularSpec, fit_tabular_spec

FORMAT: Final = "roadtest.features/1"
"""Written into every saved spec; a spec of another format is refused on load."""


@dataclass(frozen=True)
class FeatureSpec:
    """The tabular and sequence specs of one model, fitted on the same training vehicles."""

    tabular: TabularSpec
    sequence: SequenceSpec

    def __post_init__(self) -> None:
        if self.sequence.tabular != self.tabular:
            raise ValueError(
                "the sequence spec was fitted with another tabular spec; fit both with "
                "fit_feature_spec so the static inputs and margins agree"
            )

    def to_json(self) -> str:
        """The spec as a versioned JSON document."""
        document = {
            "format": FORMAT,
            "tabular": self.tabular.to_dict(),
            "sequence": self.sequence.to_dict(),
        }
        return json.dumps(document, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """Load a spec written by ``to_json``; refuses other formats with a clear message."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"the feature spec is not valid JSON: {error}") from None
        found = document.get("format") if isinstance(document, dict) else None
        if found != FORMAT:
            raise ValueError(
                f"the feature spec has format {found!r}, this version of roadtest reads "
                f"{FORMAT!r}: retrain the model or use the roadtest version that trained it"
            )
        return _from_document(document)


def _from_document(document: dict[str, Any]) -> FeatureSpec:
    try:
        tabular = TabularSpec.from_dict(document["tabular"])
        sequence = SequenceSpec.from_dict(document["sequence"], tabular)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"the feature spec is incomplete or corrupt: {error!r}") from None
    return FeatureSpec(tabular=tabular, sequence=sequence)


def fit_feature_spec(
    train_features: pl.DataFrame,
    train_events: pl.DataFrame,
    tabular_config: TabularConfig | None = None,
    sequence_config: SequenceConfig | None = None,
) -> FeatureSpec:
    """Fit both specs on the training vehicles' marts (and nothing else)."""
    tabular = fit_tabular_spec(train_features, train_events, tabular_config)
    sequence = fit_sequence_spec(train_events, train_features, sequence_config, tabular)
    return FeatureSpec(tabular=tabular, sequence=sequence)
