"""Shared test configuration: each real external system has its own fixture module."""

pytest_plugins = [
    "tests.fixtures.plant",
    "tests.fixtures.s3",
    "tests.fixtures.postgres",
    "tests.fixtures.spark",
]
