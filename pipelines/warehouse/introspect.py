"""What the UI shows about a relation: row count, column schema and a few rows, from Postgres."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from pipelines.warehouse import sqlfiles


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str | None


def columns(engine: Engine, schema: str, relation: str) -> list[Column]:
    """Columns in order, with their ``COMMENT ON`` text when there is one."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(sqlfiles.read("introspect/columns.sql")),
            {"qualified": f"{schema}.{relation}"},
        ).all()
    return [Column(r.name, r.type, r.description) for r in rows]


# Above this planner cost a count is not worth its scan (a few tenths of a second here, at
# about two million narrow rows): the planner's estimate of the rows is shown instead.
EXACT_COUNT_MAX_COST = 50_000.0


@dataclass(frozen=True)
class RowCount:
    rows: int
    estimated: bool  # the planner's estimate (kept current by autovacuum's ANALYZE)


def _plan(conn: Connection, sql: str) -> dict[str, Any]:
    return conn.execute(text(f"explain (format json) {sql}")).scalar_one()[0]["Plan"]


def row_count(engine: Engine, schema: str, relation: str) -> RowCount:
    """The exact row count where counting is cheap; else the planner's estimate, so that a
    materialization's metadata costs the same at a billion rows as at a thousand
    (identifiers come from our own constants, never from input)."""
    qualified = f'"{schema}"."{relation}"'
    count_sql = f"select count(*) from {qualified}"  # noqa: S608
    with engine.connect() as conn:
        if float(_plan(conn, count_sql)["Total Cost"]) <= EXACT_COUNT_MAX_COST:
            return RowCount(int(conn.execute(text(count_sql)).scalar_one()), estimated=False)
        estimate = _plan(conn, f"select * from {qualified}")["Plan Rows"]  # noqa: S608
    return RowCount(int(estimate), estimated=True)


# Personal data never goes to the Dagster event log (which keeps metadata for good).
PERSONAL_COLUMNS = frozenset({"phone", "rendered_message", "variables"})


def preview(
    engine: Engine,
    schema: str,
    relation: str,
    cols: Sequence[Column],
    order_by: str,
    limit: int = 5,
    campaigns: Sequence[str] = (),
) -> tuple[list[str], list[dict[str, object]]]:
    """The first rows by ``order_by`` (a column of ours), without personal columns, as
    (column names, rows of plain values: text, numbers, booleans, None). ``cols``: the
    relation's ``columns``. ``campaigns``: only rows of those campaign ids (found by index:
    the relation is not sorted whole)."""
    names = [c.name for c in cols if c.name not in PERSONAL_COLUMNS]
    listed = ", ".join(f'"{n}"' for n in names)
    relation_sql = f'select {listed} from "{schema}"."{relation}"'  # noqa: S608
    if campaigns:
        # Those campaigns' rows first (materialized), then the order: with ORDER BY ... LIMIT
        # over the relation itself the planner may walk a time index of every campaign
        # looking for these (seconds at tens of millions of rows, bench-scale).
        relation_sql = (
            f"with picked as materialized ({relation_sql} where campaign_id = any(:campaigns)) "  # noqa: S608
            "select * from picked"
        )
    sql = f"{relation_sql} order by {order_by} limit :limit"
    with engine.connect() as conn:
        found = (
            conn.execute(text(sql), {"limit": limit, "campaigns": list(campaigns)}).mappings().all()
        )
    return names, [{n: _plain(row[n]) for n in names} for row in found]


def _plain(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
