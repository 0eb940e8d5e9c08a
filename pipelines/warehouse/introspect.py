"""What the UI shows about a relation: row count and column schema, read from Postgres."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str | None


def columns(engine: Engine, schema: str, relation: str) -> list[Column]:
    """Columns in order, with their ``COMMENT ON`` text when there is one."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("""
            select a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
                   col_description(a.attrelid, a.attnum) as description
            from pg_attribute a
            where a.attrelid = to_regclass(:qualified) and a.attnum > 0 and not a.attisdropped
            order by a.attnum"""),
            {"qualified": f"{schema}.{relation}"},
        ).all()
    return [Column(r.name, r.type, r.description) for r in rows]


def row_count(engine: Engine, schema: str, relation: str) -> int:
    """Exact row count (identifiers come from our own constants, never from input)."""
    qualified = f'"{schema}"."{relation}"'
    with engine.connect() as conn:
        return int(conn.execute(text(f"select count(*) from {qualified}")).scalar_one())  # noqa: S608
