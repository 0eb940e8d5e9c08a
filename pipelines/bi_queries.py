"""``python -m pipelines.cli bi --dump-queries``: the SQL each tile of the dashboard sends,
asked of the running Superset (its chart data API, ``result_type`` "query", which compiles
the chart's saved query without running it) for the last 7 and the last 30 days, written to
bench/dashboard_queries.json, which the 50 M-row bench times.

Each entry: ``tile`` (the chart's name), ``range``, ``sql``, and ``from``/``to``, the dates
that bound the range in the SQL (``day >= from`` and ``day < to``: "last 7 days" is today
and the six days before it, in UTC). A tile that the time filter does not apply to (data
freshness) has the same SQL for both ranges, without dates.
"""

from __future__ import annotations

import copy
import json
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from pipelines.bi import DASHBOARD_SLUG
from pipelines.bi_api import dashboard_charts, local_client
from pipelines.bi_state import PROJECT_ROOT

QUERIES_FILE = PROJECT_ROOT / "bench" / "dashboard_queries.json"
RANGES = {"last 7 days": ("Last 7 days", 7), "last 30 days": ("Last 30 days", 30)}


def window(days: int, today: date) -> tuple[str, str]:
    """The first day in and the first day after a range of ``days`` days ending today."""
    return (today - timedelta(days=days - 1)).isoformat(), (today + timedelta(days=1)).isoformat()


def with_time_range(context: dict, time_range: str | None) -> dict:
    """The chart's saved query context with the dashboard's time range applied (None: a
    chart the time filter does not apply to), asking for the SQL rather than the rows."""
    body = copy.deepcopy(context)
    for query in body["queries"]:
        for condition in query.get("filters", []):
            if condition.get("op") == "TEMPORAL_RANGE" and time_range:
                condition["val"] = time_range
    body.update(result_type="query", result_format="json", force=False)
    return body


def outside_time_filter(api: httpx.Client) -> set[int]:
    """The charts the dashboard's time filter does not apply to (its scope excludes them)."""
    answer = api.get(f"/api/v1/dashboard/{DASHBOARD_SLUG}")
    answer.raise_for_status()
    metadata = json.loads(answer.json()["result"]["json_metadata"] or "{}")
    return {
        int(chart)
        for native in metadata.get("native_filter_configuration", [])
        if native.get("filterType") == "filter_time"
        for chart in native.get("scope", {}).get("excluded", [])
    }


def tile_queries(api: httpx.Client, today: date | None = None) -> list[dict]:
    """Every tile's SQL for each range, in tile-name order."""
    today = today or datetime.now(UTC).date()
    entries = []
    excluded = outside_time_filter(api)
    for chart in dashboard_charts(api):
        if not chart.get("query_context"):
            raise RuntimeError(f"chart {chart['slice_name']!r} has no saved query: save it once")
        context = json.loads(chart["query_context"])
        for name, (time_range, days) in RANGES.items():
            body = with_time_range(context, None if chart["id"] in excluded else time_range)
            answer = api.post("/api/v1/chart/data", json=body)
            answer.raise_for_status()
            start, end = window(days, today)
            sql = answer.json()["result"][0]["query"]
            entries.append(
                {"tile": chart["slice_name"], "range": name, "sql": sql, "from": start, "to": end}
            )
    return entries


def write(entries: list[dict], path: Path = QUERIES_FILE) -> None:
    path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def dump_queries() -> int:
    with closing(local_client()) as api:
        entries = tile_queries(api)
    write(entries)
    print(f"{len(entries)} tile queries written to {QUERIES_FILE}")
    return 0
