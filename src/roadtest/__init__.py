"""roadtest: predicts road-test failures before the road test, from assembly-line data."""

__version__ = "0.1.0"
