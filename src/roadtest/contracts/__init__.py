"""Schemas of the partner tables, the lake, the warehouse and the API bodies."""
