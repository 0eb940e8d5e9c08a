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
* **staleness**: 10,000 campaigns per vendor, 300 of them laid out so that ids, creation
  dates and send dates disagree (Nixflex campaigns created 15-300 days ago and scheduled,
  or drafts launched, during the measured two hours; SMSFactor campaigns with low ids sent
  late, held in moderation since an old send date and released now, scheduled ahead). At
  the start of each of 8 cycles the test reads both lists in full (outside the count) and
  notes every campaign whose row changed; after the sync it compares the warehouse with
  that row: ``max_syncs_to_visible`` is the most syncs a change took to show (goal 1).
  The simulator runs in this process (the figures are calls, not seconds).

Usage: ``python -m bench.polling [--campaigns N] [--backfill-campaigns N] [--adversarial N]``;
a scenario alone: ``python -m bench.polling steady|backfill|staleness``.
"""

from __future__ import annotations

import argparse
import json
import random
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
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock, Simulator, serve
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


def _adversarial(sim: Simulator, count: int, anchor: datetime, span: timedelta) -> None:
    """``count`` campaigns per vendor whose ids, creation dates and send dates disagree, most
    of them starting to move during the measured ``span`` after ``anchor``."""
    rng = random.Random(2026)
    days = timedelta(days=1)
    for i in range(count):
        created = anchor - rng.uniform(15, 300) * days  # beyond any lookback
        sends = anchor + rng.uniform(-3 * 86400, span.total_seconds()) * timedelta(seconds=1)
        starts = anchor + rng.uniform(0, span.total_seconds()) * timedelta(seconds=1)
        kind = ("scheduled", "launched", "draft", "scheduled")[i % 4]
        sim.add_nixflex_campaign(
            rng.randint(1, 40),
            created,
            kind=kind,
            send_at=None
            if kind == "draft"
            else max(created, sends if kind == "scheduled" else starts),
        )
        role = i % 3
        if role == 0:  # moved from a sister platform: a low id, sent late
            sim.add_smsfactor_campaign(
                rng.randint(50, 3000),
                created,
                campaign_id=1_000_000 + i,
                send_at=max(created, sends),
            )
        elif role == 1:  # held in moderation since its old send date, released now
            sim.add_smsfactor_campaign(
                rng.randint(50, 3000), created, send_at=created, held_until=starts
            )
        else:  # created now, scheduled days ahead or in the hour
            ahead = anchor + rng.uniform(0.01, 3) * days
            sim.add_smsfactor_campaign(
                rng.randint(50, 3000), anchor - timedelta(minutes=30), send_at=ahead
            )


_SMSFACTOR_LATEST = """
select distinct on (campaign_id) campaign_id, status, total, delivered, error, expired,
    network_error, stop, npai
from sms.fact_campaign_counters order by campaign_id, observed_at desc
"""
_NIXFLEX_HELD = """
select d.campaign_id, d.status, c.total, c.delivered, c.failed, c.pending
from sms.dim_campaign as d join sms.campaign_delivery as c using (provider, campaign_id)
where d.provider = 'nixflex'
"""


def _listed(base_url: str) -> dict[tuple[str, str], tuple[object, ...]]:
    """What both vendors' lists show now, per campaign: the facts the bound is about."""
    shown: dict[tuple[str, str], tuple[object, ...]] = {}
    nixflex = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
    with httpx.Client(base_url=f"{base_url}/nixflex/v1", headers=nixflex, timeout=60) as http:
        offset = 0
        while page := http.get("/sms/campaigns", params={"limit": 100, "offset": offset}).json()[
            "campaigns"
        ]:
            for c in page:
                counts = ("total_count", "delivered_count", "failed_count", "pending_count")
                shown[("nixflex", c["campaign_id"])] = (c["status"], *(c[k] for k in counts))
            offset += 100
    smsfactor = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/json"}
    with httpx.Client(base_url=f"{base_url}/smsfactor", headers=smsfactor, timeout=60) as http:
        start = 0
        while page := http.get("/campaigns", params={"start": start, "length": 1000}).json()[
            "campaigns"
        ]:
            for c in page:
                keys = ("total", "delivered", "error", "expired", "network_error", "stop", "npai")
                shown[("smsfactor", c["id"])] = (c["status"], *(int(c[k]) for k in keys))
            start += 1000
    return shown


def _held(engine: Engine) -> dict[tuple[str, str], tuple[object, ...]]:
    """The same facts as the warehouse holds them."""
    with engine.connect() as conn:
        held = {("nixflex", r[0]): tuple(r[1:]) for r in conn.execute(text(_NIXFLEX_HELD))}
        held |= {("smsfactor", r[0]): tuple(r[1:]) for r in conn.execute(text(_SMSFACTOR_LATEST))}
    return held


def staleness(campaigns: int, adversarial: int, cycles: int) -> dict[str, object]:
    """How many syncs a change the lists show takes to reach the warehouse, on a layout where
    ids, creation and send dates disagree; and what each 15-minute cycle costs in calls."""
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    pipeline_time = SimClock(start=anchor)
    clock.utcnow = pipeline_time.now
    sim = Simulator(
        seed=5,
        nixflex_campaigns=campaigns - adversarial,
        smsfactor_campaigns=campaigns - adversarial,
        clock=pipeline_time,
        anchor=anchor,
        active_campaigns=20,
        history=timedelta(days=365),
        nixflex_sizes=(1, 40),
        rate_limit=None,
    )
    _adversarial(sim, adversarial, anchor, CYCLE * cycles)
    with (
        serve(sim) as base_url,
        warehouse_database("staleness") as engine,
        httpx.Client(timeout=60) as http,
    ):
        nixflex, smsfactor = _clients(base_url, http, None)

        def sync() -> int:
            before = sum(sim.calls.values())
            fetch_nixflex(nixflex, engine, progress=_log)
            fetch_smsfactor(smsfactor, engine, progress=_log)
            load_pending(engine)
            return sum(sim.calls.values()) - before

        _log(f"staleness: first sync of {campaigns:,} campaigns per vendor")
        sync()
        shown = _listed(base_url)
        waiting: dict[tuple[str, str], int] = {}  # campaign -> cycle its change first showed
        took, calls = [], []
        for cycle in range(cycles):
            pipeline_time.advance(CYCLE)
            now_shown = _listed(base_url)
            for key, row in now_shown.items():
                if shown.get(key) != row:
                    waiting.setdefault(key, cycle)
            calls.append(sync())
            held = _held(engine)
            for key in [k for k in waiting if held.get(k) == now_shown[k]]:
                took.append(cycle - waiting.pop(key) + 1)
            shown = now_shown
            _log(
                f"cycle {cycle + 1}: {calls[-1]} calls, {len(took)} changes seen, "
                f"{len(waiting)} not yet"
            )
    naive = 2 * campaigns + -(-campaigns // 100) + -(-campaigns // 1000)
    return {
        "campaigns_per_vendor": campaigns,
        "adversarial_per_vendor": adversarial,
        "cycles": cycles,
        "changes": len(took) + len(waiting),
        "max_syncs_to_visible": max(took + [cycles - c + 1 for c in waiting.values()], default=0),
        "changes_not_visible_at_end": len(waiting),
        "calls_per_cycle": round(sum(calls) / len(calls), 1),
        "max_calls_per_cycle": max(calls),
        "naive_calls": naive,
        "calls_ratio": round(sum(calls) / len(calls) / naive, 4),
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


def _table(steady: dict[str, object], back: dict[str, object], stale: dict[str, object]) -> str:
    s, b, t = steady, back, stale
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
        ("staleness: syncs a change took to show", str(t["max_syncs_to_visible"]), "",
         f"max over {t['changes']} changes (target 1)"),
        ("staleness: API calls per 15-min cycle",
         f"{t['calls_per_cycle']} (max {t['max_calls_per_cycle']})", f"{t['naive_calls']} naive",
         f"{float(t['calls_ratio']):.2%} of naive"),  # type: ignore[arg-type]
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b_:>22}  {c:>16}  {d}" for a, b_, c, d in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", choices=("steady", "backfill", "staleness"))
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=50)
    parser.add_argument("--backfill-campaigns", type=int, default=1_000)
    parser.add_argument("--adversarial", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=8)
    args = parser.parse_args()
    if args.scenario == "staleness":
        print(json.dumps(staleness(args.campaigns, args.adversarial, args.cycles)))
        return
    if args.scenario == "steady":
        print(json.dumps(steady_state(args.campaigns, args.active)))
        return
    if args.scenario == "backfill":
        print(json.dumps(backfill(args.backfill_campaigns)))
        return
    print(f"bench-polling on {machine()}", file=sys.stderr)
    steady = _scenario("steady", "--campaigns", str(args.campaigns), "--active", str(args.active))
    back = _scenario("backfill", "--backfill-campaigns", str(args.backfill_campaigns))
    stale = _scenario(
        "staleness", "--campaigns", str(args.campaigns), "--adversarial", str(args.adversarial)
    )
    result = {"steady_state": steady, "backfill": back, "staleness": stale, "machine": machine()}
    path = write_result("polling", result)
    print(_table(steady, back, stale))
    print(f"written to {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
