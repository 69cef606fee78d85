"""The committed data dictionary is the one the schema generates, and it covers every column."""

from __future__ import annotations

from pathlib import Path

from roadtest.warehouse import WAREHOUSE_TABLES, render_data_dictionary

DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
REGENERATE = "roadtest warehouse docs (or render_data_dictionary() written to docs/warehouse.md)"


def test_committed_dictionary_matches_the_schema() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_data_dictionary(), (
        f"docs/warehouse.md is stale; regenerate it with {REGENERATE}"
    )


def test_every_table_and_column_is_documented_and_drawn() -> None:
    text = render_data_dictionary()
    diagram = text[text.index("```mermaid") : text.index("```", text.index("erDiagram"))]
    for name, spec in WAREHOUSE_TABLES.items():
        assert f"### {name}\n" in text
        assert f"    {name} {{\n" in diagram
        for column in spec.columns:
            assert f"| `{column.name}` |" in text
    assert 'dim_test ||--o{ fact_test_result : "name + value_id"' in diagram
    assert 'dim_vehicle ||--o{ predictions : "knr"' in diagram
