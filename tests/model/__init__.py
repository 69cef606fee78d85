"""Tests of the models and their evaluation."""
