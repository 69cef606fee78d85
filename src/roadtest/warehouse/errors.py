"""Errors the warehouse raises, each worded for the analyst who has to act on it."""

from __future__ import annotations


class WarehouseError(Exception):
    """A warehouse operation could not be done; the message says what and why."""


class WarehouseSchemaError(WarehouseError):
    """The database's tables do not match the tables the code expects."""


class FrameContractError(WarehouseError):
    """A frame handed to the warehouse does not fit the table it is meant for."""
