"""``make bench-polling``: what incremental polling costs, side by side with a naive full
refresh, and how close a backfill runs to the vendor's rate limit.

Each scenario runs in its own process (so peak memory is the scenario's own), against the
simulator in another process and a fresh database on the warehouse server:

* **steady state**: 10,000 campaigns per vendor, 50 of them in flight. After the first sync,
  one *naive* cycle (every campaign's detail: Nixflex list + 10,000 details, SMSFactor
  history + 10,000 ``GET /campaign/{id}``) and then an hour of *incremental* cycles, 15
  minutes apart. Both land and load what they fetch. The vendor's rate limit is off here
  so that both are measured under the same conditions (at 600 GET/min the naive cycle
  alone would take calls/600 minutes).
* **backfill**: 1,000 Nixflex campaigns of up to 10,000 recipients, rate limit on (600
  GET/min per key, enforced by the simulator with 429s): requests per minute, failed
  requests, peak memory of the pipeline process.

Usage: ``python -m bench.polling [--campaigns N] [--backfill-campaigns N]``; a scenario alone:
``python -m bench.polling steady|backfill``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, text

from bench.common import (
    SimulatorProcess,
    calls_between,
    machine,
    peak_rss_mb,
    warehouse_database,
    write_result,
)
from pipelines import clock
from pipelines.fetch import fetch_nixflex, fetch_smsfactor
from pipelines.polling.policy import PollingPolicy
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.ratelimit import RateLimiter
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending

CYCLE = timedelta(minutes=15)
LIMIT_PER_MIN = 600


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _clients(
    base_url: str, http: httpx.Client, limiter: RateLimiter | None
) -> tuple[NixflexClient, SmsFactorClient]:
    return (
        NixflexClient(
            http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1", limiter=limiter
        ),
        SmsFactorClient(http, api_token=SMSFACTOR_DEMO_TOKEN, base_url=f"{base_url}/smsfactor"),
    )


def _timed(sim: SimulatorProcess, work: Callable[[], None]) -> tuple[int, float]:
    """Run ``work``; return the requests the simulator served for it and the seconds taken."""
    before, started = sim.calls(), time.monotonic()
    work()
    return calls_between(before, sim.calls()), time.monotonic() - started


def _naive_smsfactor(client: SmsFactorClient, engine: Engine) -> None:
    """What a naive poller does for SMSFactor: every campaign's own ``GET /campaign/{id}``."""
    ids = [c.campaign_id for page in client.history_pages() for c in page.campaigns]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda cid: land_now(engine, client.get_campaign(cid)), ids))


def steady_state(campaigns: int, active: int) -> dict[str, object]:
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    pipeline_time = SimClock(start=anchor)
    clock.utcnow = pipeline_time.now  # the pipeline's clock moves with the simulator's
    args = [
        *("--nixflex-campaigns", str(campaigns), "--smsfactor-campaigns", str(campaigns)),
        *("--active", str(active), "--history-days", "365", "--nixflex-sizes", "1", "40"),
        *("--rate-limit", "0", "--frozen", "--anchor", anchor.isoformat()),
    ]
    with (
        SimulatorProcess(*args) as sim,
        warehouse_database("polling") as engine,
        httpx.Client(timeout=60) as http,
    ):
        nixflex, smsfactor = _clients(sim.base_url, http, None)

        def advance() -> None:
            sim.advance(CYCLE.total_seconds())
            pipeline_time.advance(CYCLE)

        def incremental() -> None:
            fetch_nixflex(nixflex, engine, progress=_log)
            fetch_smsfactor(smsfactor, engine, progress=_log)
            load_pending(engine)

        def naive() -> None:
            fetch_nixflex(nixflex, engine, policy=PollingPolicy(refresh_all=True), progress=_log)
            _naive_smsfactor(smsfactor, engine)
            load_pending(engine)

        _log(f"first sync of {campaigns:,} campaigns per vendor (fills the warehouse)")
        first_calls, first_seconds = _timed(sim, incremental)
        advance()
        _log("one naive cycle: every campaign's detail")
        before_naive = sim.calls()
        naive_calls, naive_seconds = _timed(sim, naive)
        naive_nixflex = calls_between(before_naive, sim.calls(), "nixflex")
        cycles = []
        for _ in range(4):  # one hour: includes the hourly re-check of unsettled campaigns
            advance()
            cycles.append(_timed(sim, incremental))
        with engine.connect() as conn:
            polled = conn.execute(text("select count(*) from sms.dim_campaign")).scalar_one()
    calls = [c for c, _ in cycles]
    seconds = [s for _, s in cycles]
    return {
        "campaigns_per_vendor": campaigns,
        "active": active,
        "campaigns_in_warehouse": polled,
        "first_sync_calls": first_calls,
        "first_sync_seconds": round(first_seconds, 1),
        "calls": round(sum(calls) / len(calls), 1),
        "max_calls": max(calls),
        "naive_calls": naive_calls,
        "seconds": round(sum(seconds) / len(seconds), 2),
        "naive_seconds": round(naive_seconds, 1),
        "calls_ratio": round(sum(calls) / len(calls) / naive_calls, 4),
        "naive_nixflex_minutes_at_rate_limit": round(naive_nixflex / LIMIT_PER_MIN, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def backfill(campaigns: int) -> dict[str, object]:
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    args = [
        *("--nixflex-campaigns", str(campaigns), "--smsfactor-campaigns", "1", "--active", "0"),
        *("--history-days", "365", "--nixflex-sizes", "1", "10000"),
        *("--rate-limit", str(LIMIT_PER_MIN), "--frozen", "--anchor", anchor.isoformat()),
    ]
    with (
        SimulatorProcess(*args) as sim,
        warehouse_database("backfill") as engine,
        httpx.Client(timeout=60) as http,
    ):
        limiter = RateLimiter(LIMIT_PER_MIN)
        nixflex, _ = _clients(sim.base_url, http, limiter)
        _log(f"backfill of {campaigns:,} Nixflex campaigns under {LIMIT_PER_MIN} GET/min")
        before, started = sim.calls(), time.monotonic()
        report = fetch_nixflex(nixflex, engine, progress=_log)
        fetch_seconds = time.monotonic() - started
        served = calls_between(before, sim.calls(), "nixflex")
        throttled = sim.calls().get("nixflex/rate_limited", 0)
        window_peak = sim.max_requests_in_window("nixflex")
        _log("loading what was landed")
        started = time.monotonic()
        stats = load_pending(engine, progress=_log)
        load_seconds = time.monotonic() - started
        with engine.connect() as conn:
            recipients = conn.execute(
                text("select count(*) from sms.fact_recipient_delivery")
            ).scalar_one()
    return {
        "requests_per_min": round(served / fetch_seconds * 60, 1),
        "limit_per_min": LIMIT_PER_MIN,
        "failed_requests": len(report.problems) + (1 if report.fatal else 0),
        "throttled_429": throttled,
        "max_requests_in_one_window": window_peak,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "campaigns": report.campaigns_fetched,
        "recipients": recipients,
        "requests": served,
        "fetch_seconds": round(fetch_seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "recipient_rows_loaded_per_s": round(stats.recipients_seen / load_seconds),
    }


def _scenario(name: str, *args: str) -> dict[str, object]:
    """Run one scenario in a child process and read its JSON answer (its last line)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.polling", name, *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _table(steady: dict[str, object], back: dict[str, object]) -> str:
    s, b = steady, back
    rate = float(b["requests_per_min"]) / float(b["limit_per_min"])  # type: ignore[arg-type]
    rows = [
        ("steady state: API calls per 15-min cycle", f"{s['calls']} (max {s['max_calls']})",
         f"{s['naive_calls']} naive", f"{float(s['calls_ratio']):.2%} of naive (target ≤ 2 %)"),  # type: ignore[arg-type]
        ("steady state: wall time per cycle", f"{s['seconds']} s", f"{s['naive_seconds']} s naive",
         f"naive Nixflex alone: ≥ {s['naive_nixflex_minutes_at_rate_limit']} min at 600/min"),
        ("backfill: requests per minute", str(b["requests_per_min"]), f"limit {b['limit_per_min']}",
         f"{rate:.1%} of the limit (target ≥ 90 %)"),
        ("backfill: failed requests / 429s", f"{b['failed_requests']} / {b['throttled_429']}", "",
         "target 0 failed"),
        ("backfill: peak RSS of the pipeline", f"{b['peak_rss_mb']} MB", "", "target ≤ 500 MB"),
        ("backfill: campaigns / recipients", f"{b['campaigns']} / {b['recipients']:,}", "",  # type: ignore[str-format]
         f"fetched in {b['fetch_seconds']} s, loaded in {b['load_seconds']} s"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b_:>22}  {c:>16}  {d}" for a, b_, c, d in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", choices=("steady", "backfill"))
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=50)
    parser.add_argument("--backfill-campaigns", type=int, default=1_000)
    args = parser.parse_args()
    if args.scenario == "steady":
        print(json.dumps(steady_state(args.campaigns, args.active)))
        return
    if args.scenario == "backfill":
        print(json.dumps(backfill(args.backfill_campaigns)))
        return
    print(f"bench-polling on {machine()}", file=sys.stderr)
    steady = _scenario("steady", "--campaigns", str(args.campaigns), "--active", str(args.active))
    back = _scenario("backfill", "--backfill-campaigns", str(args.backfill_campaigns))
    result = {"steady_state": steady, "backfill": back, "machine": machine()}
    path = write_result("polling", result)
    print(_table(steady, back))
    print(f"written to {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
