"""What the UI shows about a relation: row count, column schema and a few rows, from Postgres."""

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


# Personal data never goes to the Dagster event log (which keeps metadata for good).
PERSONAL_COLUMNS = frozenset({"phone", "rendered_message", "variables"})


def preview(
    engine: Engine, schema: str, relation: str, order_by: str, limit: int = 5
) -> tuple[list[str], list[dict[str, object]]]:
    """The first rows by ``order_by`` (a column of ours), without personal columns, as
    (column names, rows of plain values: text, numbers, booleans, None)."""
    names = [c.name for c in columns(engine, schema, relation) if c.name not in PERSONAL_COLUMNS]
    listed = ", ".join(f'"{n}"' for n in names)
    sql = f'select {listed} from "{schema}"."{relation}" order by {order_by} limit :limit'  # noqa: S608
    with engine.connect() as conn:
        found = conn.execute(text(sql), {"limit": limit}).mappings().all()
    return names, [{n: _plain(row[n]) for n in names} for row in found]


def _plain(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
