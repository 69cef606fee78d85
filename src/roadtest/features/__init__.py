"""Vehicle features and event sequences: fitted on training vehicles, applied everywhere.

Training builds examples from the warehouse marts, serving from a vehicle's
raw partner rows (``examples_from_partner_rows``), and both go through the
same ``build_tabular`` / ``build_sequences`` with the same ``FeatureSpec``.
"""

from roadtest.features.sequence import (
    CATEGORICAL_CHANNELS,
    EMPTY_CODE,
    NUMERIC_CHANNELS,
    SequenceConfig,
    SequenceSpec,
    build_sequences,
    fit_sequence_spec,
)
from roadtest.features.serving import examples_from_partner_rows
from roadtest.features.spec import FeatureSpec, fit_feature_spec
from roadtest.features.tabular import (
    CROSS_VEHICLE_COLUMNS,
    TabularConfig,
    TabularSpec,
    build_tabular,
    fit_tabular_spec,
)
from roadtest.features.windows import SpecWindows

__all__ = [
    "CATEGORICAL_CHANNELS",
    "CROSS_VEHICLE_COLUMNS",
    "EMPTY_CODE",
    "NUMERIC_CHANNELS",
    "FeatureSpec",
    "SequenceConfig",
    "SequenceSpec",
    "SpecWindows",
    "TabularConfig",
    "TabularSpec",
    "build_sequences",
    "build_tabular",
    "examples_from_partner_rows",
    "fit_feature_spec",
    "fit_sequence_spec",
    "fit_tabular_spec",
]
