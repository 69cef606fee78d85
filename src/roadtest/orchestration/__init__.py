"""Dagster orchestration over the plain pipeline functions (see ``definitions``)."""
