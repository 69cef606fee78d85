"""The warehouse: star schema, marts and platform tables on DuckDB or PostgreSQL."""

from roadtest.warehouse.docs import render_data_dictionary
from roadtest.warehouse.errors import FrameContractError, WarehouseError, WarehouseSchemaError
from roadtest.warehouse.schema import PLATFORM_TABLES, WAREHOUSE_TABLES, warehouse_table
from roadtest.warehouse.store import Transaction, Warehouse, connect

__all__ = [
    "PLATFORM_TABLES",
    "WAREHOUSE_TABLES",
    "FrameContractError",
    "Transaction",
    "Warehouse",
    "WarehouseError",
    "WarehouseSchemaError",
    "connect",
    "render_data_dictionary",
    "warehouse_table",
]
