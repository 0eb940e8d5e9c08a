"""``make bench-plans``: the questions analysts ask most, and every check, timed with their
query plans on a warehouse filled by this project's own load path.

The data is ``make bench-load``'s (simulated Nixflex campaigns of 10,000 recipients, sent
over 60 days; ``--rows``, default 1 M). After the load the tables are vacuumed and
analysed, as autovacuum would leave them. Each query runs once to warm the cache, then
under ``EXPLAIN (ANALYZE, BUFFERS)``; the result keeps its execution time, the plan's node
types and the indexes it used. Written to ``bench/results/plans.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from bench.common import machine, warehouse_database, write_result
from bench.load import _landed, _log, answers, prepare
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.sqlfiles import SQL_DIR

QUESTIONS = {
    "delivery of every campaign (sms.campaign_delivery)": "select * from sms.campaign_delivery",
    "delivery of one campaign": (
        "select * from sms.campaign_delivery where campaign_id = :campaign_id"
    ),
    "delivery of campaigns created in the last 7 days": (
        "select * from sms.campaign_delivery where created_at >= :week_ago"
    ),
    "delivery by day, last 7 days": (
        "select date_trunc('day', sent_at) as day, count(*) as total, "
        "count(*) filter (where delivery_bucket = 'delivered') as delivered "
        "from sms.fact_recipient_delivery where sent_at >= :week_ago group by 1 order by 1"
    ),
    "recipients by status": (
        "select status, count(*) from sms.fact_recipient_delivery group by 1 order by 2 desc"
    ),
    "failed recipients of one campaign": (
        "select phone, status, error_message from sms.fact_recipient_delivery "
        "where campaign_id = :campaign_id and delivery_bucket = 'failed'"
    ),
    "status changes observed in the last hour": (
        "select to_status, count(*) from sms.fact_recipient_status_change "
        "where observed_at >= :hour_ago group by 1"
    ),
}


def _checks() -> Iterator[tuple[str, str]]:
    for path in sorted((SQL_DIR / "checks").glob("*.sql")):
        yield f"check {path.stem}", path.read_text()


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def explain(engine: Engine, sql: str, params: dict[str, object]) -> dict[str, object]:
    with engine.connect() as conn:
        conn.execute(text(sql), params).all()  # warm the cache, as a dashboard would
        plan = conn.execute(
            text(f"explain (analyze, buffers, format json) {sql}"), params
        ).scalar_one()[0]
    nodes = list(_walk(plan["Plan"]))
    return {
        "ms": round(plan["Execution Time"], 1),
        "nodes": sorted({n["Node Type"] for n in nodes}),
        "indexes": sorted({n["Index Name"] for n in nodes if "Index Name" in n}),
        "rows_out": plan["Plan"]["Actual Rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"bench-plans on {machine()}: {args.rows:,} recipient rows", file=sys.stderr)
    directory = prepare(args.rows)
    with warehouse_database("plans") as engine:
        at = datetime.now(UTC)
        started = time.monotonic()
        for campaign_id, body in answers(directory):
            land_now(engine, _landed(campaign_id, body, at))
        load_pending(engine)
        _log(f"landed and loaded in {time.monotonic() - started:.0f}s; vacuum analyze…")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("vacuum analyze"))
            one = conn.execute(
                text("select campaign_id from sms.dim_campaign order by campaign_id limit 1")
            ).scalar_one()
            latest = conn.execute(text("select max(sent_at) from sms.fact_recipient_delivery"))
            newest = latest.scalar_one() or at
            rows = conn.execute(text("select count(*) from sms.fact_recipient_delivery"))
            loaded = int(rows.scalar_one())
        params = {
            "campaign_id": one,
            "week_ago": newest - timedelta(days=7),
            "hour_ago": at - timedelta(hours=1),
            "since": None,  # the checks over every campaign, as the daily full check runs
            "stale_after_minutes": 75.0,  # recheck_minutes (60) + one 15-minute cycle
        }
        queries = {**QUESTIONS, **dict(_checks())}
        results = {}
        for name, sql in queries.items():
            results[name] = explain(engine, sql, params)
            _log(f"{name}: {results[name]['ms']} ms {results[name]['indexes']}")
    name = "plans" if args.rows == 1_000_000 else f"plans-{args.rows}"
    write_result(name, {"rows": loaded, "queries": results, "machine": machine()})
    width = max(map(len, results))
    print(f"{'query':<{width}} {'ms':>9}  plan")
    for name, r in results.items():
        used = ", ".join(r["indexes"]) or "no index"  # type: ignore[arg-type]
        print(f"{name:<{width}} {r['ms']:>9,.1f}  {used}; {', '.join(r['nodes'])}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
