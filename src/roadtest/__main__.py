"""``python -m roadtest`` runs the CLI."""

from roadtest.cli import app

app()
