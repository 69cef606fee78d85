"""The configuration reference in docs/operations.md is the current rendering of Settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, SecretStr

from roadtest.config import Settings
from roadtest.config_docs import (
    BEGIN_MARKER,
    END_MARKER,
    render_settings_reference,
    replace_reference,
)

REPO = Path(__file__).resolve().parents[2]


class ExampleSettings(Settings):
    """Settings with one field of each kind the renderer must describe."""

    example_level: Literal["low", "high"] = Field(default="low", description="A level.")
    example_token: SecretStr | None = Field(default=None, description="A | secret.")


def test_operations_doc_holds_the_current_reference() -> None:
    document = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert replace_reference(document, render_settings_reference()) == document, (
        "docs/operations.md is stale: run `python -m roadtest.config_docs`"
    )


def test_reference_names_every_setting_with_type_and_default() -> None:
    reference = render_settings_reference(ExampleSettings)
    rows = {line.split(" | ")[0].strip("| `"): line for line in reference.splitlines()[2:]}
    assert set(rows) == {f"ROADTEST_{name.upper()}" for name in ExampleSettings.model_fields}
    assert "| one of `low`, `high` | `low` | A level. |" in rows["ROADTEST_EXAMPLE_LEVEL"]
    assert "| secret string (optional) | unset | A \\| secret. |" in rows["ROADTEST_EXAMPLE_TOKEN"]
    assert "| comma-separated strings | unset |" in rows["ROADTEST_API_KEY_HASHES"]
    assert "| true/false | false |" in rows["ROADTEST_API_READ_AUTH"]


def test_replacing_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        replace_reference("# no markers\n", "table\n")
    document = f"intro\n{BEGIN_MARKER}\nold\n{END_MARKER}\noutro\n"
    assert (
        replace_reference(document, "new\n") == f"intro\n{BEGIN_MARKER}\nnew\n{END_MARKER}\noutro\n"
    )
