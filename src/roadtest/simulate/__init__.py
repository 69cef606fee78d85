"""Plant simulator: exports in the partner's format plus each vehicle's ground truth.

``simulate_plant`` is pure (same config, same plant); ``write_exports`` writes
the three exports in xlsx, csv or parquet and the truth to a separate folder.
See ``docs/simulator.md`` for the mechanisms, quirks and file formats.
"""

from roadtest.simulate.config import MIN_ROWS_PER_VEHICLE, PlantConfig
from roadtest.simulate.exports import (
    CSV_STYLES,
    CsvStyle,
    ExportFormat,
    ExportSummary,
    csv_style,
    write_exports,
)
from roadtest.simulate.plant import SimulatedPlant, simulate_plant

__all__ = [
    "CSV_STYLES",
    "MIN_ROWS_PER_VEHICLE",
    "CsvStyle",
    "ExportFormat",
    "ExportSummary",
    "PlantConfig",
    "SimulatedPlant",
    "csv_style",
    "simulate_plant",
    "write_exports",
]
