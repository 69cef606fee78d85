"""Bronze → warehouse: every table of ``contracts.warehouse`` from the three bronze tables.

Written once with the narwhals lazy API, so the same function runs on Polars,
DuckDB and PySpark (``etl.engines`` hands it each engine's lazy frames). It
never collects, never relies on row order (every sequence has an explicit,
total sort key) and uses only operations that give identical results on the
three engines (see ``etl.exprs`` for the few that had to be rebuilt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import narwhals as nw
import polars as pl

from roadtest.contracts.partner import SourceTable
from roadtest.contracts.warehouse import TRANSFORM_TABLES, TableSpec
from roadtest.etl.clean import check_bronze, clean_defects, clean_passages, clean_results
from roadtest.etl.dims import build_dim_date, build_dim_test, build_dim_vehicle, build_dim_zone
from roadtest.etl.facts import build_defects, build_test_results, build_zone_passages
from roadtest.etl.labels import build_vehicle_label
from roadtest.etl.marts import build_mart_vehicle_events, build_mart_vehicle_features
from roadtest.etl.vehicles import chain_pivot, road_test_starts

_NW_DTYPES: dict[type[pl.DataType], type[nw.dtypes.DType]] = {
    pl.String: nw.String,
    pl.Int64: nw.Int64,
    pl.Int32: nw.Int32,
    pl.Float64: nw.Float64,
    pl.Boolean: nw.Boolean,
    pl.Date: nw.Date,
}


def narwhals_dtype(dtype: pl.DataType) -> nw.dtypes.DType:
    """The narwhals dtype of a contract column type."""
    if isinstance(dtype, pl.Datetime):
        return nw.Datetime(time_unit=dtype.time_unit, time_zone=dtype.time_zone)
    try:
        return _NW_DTYPES[type(dtype)]()
    except KeyError:
        raise TypeError(f"warehouse column type {dtype} has no narwhals equivalent") from None


def conform(frame: nw.LazyFrame, spec: TableSpec) -> nw.LazyFrame:
    """Exactly the contract's columns, in order, with the contract's types.

    Columns that already have their type are not cast (fewer plan nodes, which
    is what Spark's plan building pays for).
    """
    schema = frame.collect_schema()
    columns = []
    for c in spec.columns:
        dtype = narwhals_dtype(c.dtype)
        column = nw.col(c.name)
        columns.append(column if schema.get(c.name) == dtype else column.cast(dtype))
    return frame.select(*columns)


def _lazy(frame: nw.LazyFrame) -> nw.LazyFrame:
    return frame


def build_warehouse_tables(
    bronze: Mapping[SourceTable, nw.LazyFrame],
    *,
    spec_windows: nw.LazyFrame | None = None,
    materialize: Callable[[nw.LazyFrame], nw.LazyFrame] | None = None,
) -> dict[str, nw.LazyFrame]:
    """Every warehouse table (keys: ``TRANSFORM_TABLES`` names, in load order) from bronze.

    ``spec_windows`` (columns name, value_id, ok_min, ok_max, e.g. the warehouse's
    dim_test) replaces the spec windows derived from this input in the margin
    features. An incremental run over a subset of vehicles should pass the
    windows of the whole population, so that a vehicle's margins do not depend
    on which other vehicles happened to be recomputed with it.

    ``materialize`` is applied to the intermediate frames that several tables
    share (cleaned bronze, road-test starts, chain pivot, facts). An engine
    without common-subplan elimination (DuckDB, Spark) passes a function that
    computes and stores its argument, so that each is computed once and the
    query plans stay small; by default they stay lazy.
    """
    check_bronze(bronze)
    keep = materialize if materialize is not None else _lazy
    results = keep(clean_results(bronze[SourceTable.RESULTADOS]))
    defects = keep(clean_defects(bronze[SourceTable.FALHAS]))
    passages = keep(clean_passages(bronze[SourceTable.STATUS]))

    starts = keep(road_test_starts(passages, defects))
    pivot = keep(chain_pivot(passages))
    fact_passages = keep(build_zone_passages(passages, starts, pivot))
    fact_results = keep(build_test_results(results, starts, pivot))
    fact_defects = keep(build_defects(defects, starts))
    dim_test = build_dim_test(fact_results)
    windows = dim_test if spec_windows is None else spec_windows

    tables = {
        "dim_zone": build_dim_zone(passages),
        "dim_date": build_dim_date(results, passages, defects),
        "dim_test": dim_test,
        "dim_vehicle": build_dim_vehicle(results, passages, defects, starts, pivot),
        "fact_zone_passage": fact_passages,
        "fact_test_result": fact_results,
        "fact_defect": fact_defects,
        "vehicle_label": build_vehicle_label(fact_defects, starts),
        "mart_vehicle_features": build_mart_vehicle_features(
            fact_results, fact_passages, fact_defects, starts, windows
        ),
        "mart_vehicle_events": build_mart_vehicle_events(fact_results, fact_passages, fact_defects),
    }
    return {spec.name: conform(tables[spec.name], spec) for spec in TRANSFORM_TABLES}
