"""Errors the warehouse raises, each worded for the analyst who has to act on it."""

from __future__ import annotations

import sqlalchemy as sa


class WarehouseError(Exception):
    """A warehouse operation could not be done; the message says what and why."""


class WarehouseSchemaError(WarehouseError):
    """The database's tables do not match the tables the code expects."""


class FrameContractError(WarehouseError):
    """A frame handed to the warehouse does not fit the table it is meant for."""


class DuplicateKeyError(WarehouseError):
    """Rows repeat the primary key of rows already stored (PostgreSQL enforces keys; on
    DuckDB the writer checks only the rows it is given)."""


def is_lock_conflict(error: sa.exc.DBAPIError) -> bool:
    """Whether a database error is DuckDB refusing a file another process holds for writing.

    DuckDB allows one writing process per file; readers (dashboard, monitor) wait
    or report "busy" instead of treating the warehouse as down.
    """
    return "lock" in str(error.orig).lower()
