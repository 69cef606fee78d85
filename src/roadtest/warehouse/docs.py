"""The warehouse's data dictionary and ER diagram, generated from the table declarations.

``docs/warehouse.md`` is this text; a test compares the two, so the documentation
changes in the same commit as the schema or the build fails.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.dialects import postgresql

from roadtest.contracts.warehouse import TableSpec
from roadtest.warehouse.migrations import MIGRATIONS
from roadtest.warehouse.schema import WAREHOUSE_TABLES, references, sql_type

_SHORT_SQL_NAMES = {
    "double precision": "double",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
}


def type_name(dtype: pl.DataType) -> str:
    """The SQL type of a column in one word, as PostgreSQL names it (DuckDB's equivalent)."""
    compiled = str(sql_type(dtype, "column").compile(dialect=postgresql.dialect())).lower()
    return _SHORT_SQL_NAMES.get(compiled, compiled)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _referenced(spec: TableSpec) -> dict[str, list[str]]:
    """Column → the dimensions it (partly) refers to, worded for the dictionary."""
    out: dict[str, list[str]] = {}
    for ref in references(spec):
        target = f"`{ref.dimension}` (by day)" if ref.by_day else f"`{ref.dimension}`"
        for col in ref.columns:
            out.setdefault(col, []).append(target)
    return out


def _erd(specs: list[TableSpec]) -> list[str]:
    lines = ["```mermaid", "erDiagram"]
    for spec in specs:
        for ref in references(spec):
            label = "day of data" if ref.by_day else " + ".join(ref.columns)
            lines.append(f'    {ref.dimension} ||--o{{ {spec.name} : "{label}"')
    for spec in specs:
        fk = {c for ref in references(spec) if not ref.by_day for c in ref.columns}
        lines.append(f"    {spec.name} {{")
        for col in spec.columns:
            keys = [
                k for k, on in (("PK", col.name in spec.primary_key), ("FK", col.name in fk)) if on
            ]
            suffix = f" {', '.join(keys)}" if keys else ""
            lines.append(f"        {type_name(col.dtype)} {col.name}{suffix}")
        lines.append("    }")
    lines.append("```")
    return lines


def _table_section(spec: TableSpec) -> list[str]:
    refs = _referenced(spec)
    how = (
        "Rebuilt per vehicle by the ETL (all rows of a vehicle replaced together)."
        if spec.vehicle_scoped
        else "Upserted by primary key."
    )
    lines = [
        f"### {spec.name}",
        "",
        _cell(spec.description),
        "",
        f"Primary key: {', '.join(f'`{k}`' for k in spec.primary_key)}. {how}",
        "",
        "| column | type | nullable | references | description |",
        "|---|---|---|---|---|",
    ]
    for col in spec.columns:
        nullable = "yes" if col.nullable and col.name not in spec.primary_key else "no"
        ref = ", ".join(refs.get(col.name, []))
        cells = [f"`{col.name}`", type_name(col.dtype), nullable, ref, _cell(col.description)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def render_data_dictionary() -> str:
    """Markdown for ``docs/warehouse.md``: every table and column, and the ER diagram."""
    specs = list(WAREHOUSE_TABLES.values())
    lines = [
        "# Warehouse data dictionary",
        "",
        "Generated from the table declarations in `roadtest.contracts.warehouse` and",
        "`roadtest.warehouse.schema` by `roadtest warehouse docs`; do not edit by hand.",
        "",
        "The same schema lives on DuckDB (embedded default) and PostgreSQL. Types are given",
        "as PostgreSQL names them: `timestamp` is plant-local time as the partner records it",
        "(no zone), `timestamptz` a UTC instant. Relations are declared by column name",
        "(a column named like a dimension's key refers to it) and checked by the ETL's",
        f"data-quality checks rather than by database constraints. Schema version: "
        f"{MIGRATIONS[-1].version}.",
        "",
        "## Tables",
        "",
        "| table | description |",
        "|---|---|",
    ]
    lines += [f"| [{s.name}](#{s.name}) | {_cell(s.description)} |" for s in specs]
    lines += ["", "## Entity-relationship diagram", "", *_erd(specs), "", "## Columns", ""]
    for spec in specs:
        lines += _table_section(spec)
    return "\n".join(lines).rstrip("\n") + "\n"
