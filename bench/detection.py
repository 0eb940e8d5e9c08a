"""``make bench-detect``: does the delivery-drop rule stay quiet on steady traffic, and how
soon does it flag a sender whose delivery rate dropped?

One scenario (``run_scenario``, which tests/test_detection_scenario.py runs shorter): the
simulator with no laid-out campaigns, a daily rhythm of campaigns (``add_daily_rhythm``:
the demo account's three Nixflex senders and two SMSFactor senders each send one campaign
every 8 hours, at the same hours every day) over ``baseline_days + steady_days + 1`` days,
and a ``DeliveryDrop`` of 30 points on one Nixflex sender from the start of the last day. An
empty warehouse follows it sync by sync: the simulator's clock and the pipeline's (the same
``SimClock``) move by ``sync_every``, then one plain sync (``fetch_nixflex``,
``fetch_smsfactor``, ``load_pending``) runs, so each outcome is timed by the poll that
first saw it, as in production.

From the end of the baseline period on, ``delivery_drops`` runs after each sync as of the
pipeline's now:

* **steady period** (``steady_days`` days, no drop): every flagged segment is a false alert
  (expected: none); the segment-evaluations with enough outcomes to be judged
  (``judged_segments``) say the rule had volume to work with;
* **drop period** (the last day): the first sync after which the dropped sender is flagged,
  counted in syncs from the first sync that loaded an outcome of a campaign sent under the
  drop (1: that same sync) and in hours since the drop started; whether any other segment
  was flagged.

Usage: ``python -m bench.detection [--baseline-days N] [--steady-days N] [--sync-every-hours
H] [--points P] [--dropped-index I]``; writes ``bench/results/detection.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, column, func, select, table

from bench.common import machine, warehouse_database, write_result
from pipelines import clock
from pipelines.fetch import FetchReport, fetch_nixflex, fetch_smsfactor
from pipelines.simulator import (
    NIXFLEX_DEMO_KEY,
    SMSFACTOR_DEMO_TOKEN,
    DeliveryDrop,
    SimClock,
    Simulator,
    serve,
)
from pipelines.simulator.rhythm import RhythmCampaign, add_daily_rhythm
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.detection import DetectionSettings, delivery_drops, judged_segments
from pipelines.warehouse.lanes import load_pending

DAY = timedelta(days=1)
# What the rule reads: outcomes per campaign and the UTC hour the warehouse learnt them.
OUTCOME_HOUR = table(
    "campaign_outcome_hour",
    column("provider"),
    column("campaign_id"),
    column("known_hour"),
    column("messages"),
    schema="sms",
)


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


@dataclass
class Scenario:
    """What one run of the scenario saw; instants are ISO text, rows as ``delivery_drops``
    returns them (with ``as_of`` added)."""

    settings: dict[str, Any]
    seed: int
    baseline_days: int
    steady_days: int
    sync_every_hours: float
    points: float
    every_hours: int
    nixflex_size: int
    smsfactor_size: int
    start: str
    drop_start: str
    end: str
    dropped_sender: str
    dropped_campaigns: list[str]
    segments: list[str]  # every segment the rule listed, sorted
    campaigns: int
    syncs: int
    # Steady period.
    steady_syncs: int = 0
    steady_evaluations: int = 0  # segments listed (outcomes in the window), summed over syncs
    steady_judged: int = 0  # of those, enough outcomes in the window and the baseline
    steady_flagged: list[dict[str, Any]] = field(default_factory=list)
    steady_largest_drop: dict[str, Any] | None = None  # judged row with the largest drop
    # Drop period.
    drop_syncs: list[dict[str, Any]] = field(default_factory=list)  # the dropped segment
    first_loaded_at: str | None = None  # first sync that loaded an outcome under the drop
    first_loaded_enough_at: str | None = None  # first with >= min_messages of them
    flagged_at: str | None = None  # first sync after which the dropped segment is flagged
    syncs_to_flag: int | None = None  # 1: the sync that first loaded an outcome under the drop
    hours_to_flag: float | None = None  # since the drop started
    flagged_row: dict[str, Any] | None = None
    dropped_flagged_early: list[dict[str, Any]] = field(default_factory=list)
    other_flagged: list[dict[str, Any]] = field(default_factory=list)
    # Cost.
    sync_seconds: float = 0.0
    detect_seconds: float = 0.0
    wall_seconds: float = 0.0
    fetch_problems: list[str] = field(default_factory=list)


def _clients(base_url: str, http: httpx.Client) -> tuple[NixflexClient, SmsFactorClient]:
    return (
        NixflexClient(http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1"),
        SmsFactorClient(http, api_token=SMSFACTOR_DEMO_TOKEN, base_url=f"{base_url}/smsfactor"),
    )


def _loaded(engine: Engine, campaign_ids: list[str], as_of: datetime) -> int:
    """Outcomes (delivered + failed) of these Nixflex campaigns the warehouse holds in hours
    up to the one holding ``as_of``: those the rule can count."""
    query = select(func.coalesce(func.sum(OUTCOME_HOUR.c.messages), 0)).where(
        OUTCOME_HOUR.c.provider == "nixflex",
        OUTCOME_HOUR.c.campaign_id.in_(campaign_ids),
        OUTCOME_HOUR.c.known_hour <= as_of,
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _with_time(row: dict[str, Any], as_of: datetime) -> dict[str, Any]:
    return {"as_of": as_of.isoformat(), **row}


def run_scenario(
    engine: Engine,
    *,
    baseline_days: int | None = None,
    steady_days: int = 7,
    sync_every: timedelta = timedelta(hours=1),
    points: float = 30.0,
    settings: DetectionSettings | None = None,
    anchor: datetime | None = None,
    every_hours: int = 8,
    nixflex_size: int = 300,
    smsfactor_size: int = 600,
    smsfactor_senders: int = 2,
    dropped_index: int = 0,
    seed: int = 2027,
    progress: Callable[[str], None] | None = None,
) -> Scenario:
    """Run the scenario against ``engine`` (an empty, migrated warehouse); see the module.

    ``baseline_days`` (default: ``settings.baseline_days``) days of rhythm come before the
    ``steady_days`` judged without a drop, then one day with the drop; ``anchor`` (default:
    this hour, UTC) is the end. ``sync_every`` must divide a day, so that every day is synced
    at the same instants. The drop is on the ``dropped_index``-th Nixflex sender (the rhythm
    offsets it by ``dropped_index * every_hours / senders`` from the start of each slot)."""
    settings = settings or DetectionSettings()
    baseline_days = settings.baseline_days if baseline_days is None else baseline_days
    if baseline_days < 1 or steady_days < 1:
        raise ValueError("baseline_days and steady_days must be 1 or more")
    if sync_every <= timedelta(0) or DAY % sync_every:
        raise ValueError(f"sync_every must divide a day, not {sync_every}")
    began = time.monotonic()
    if anchor is None:
        anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = anchor.astimezone(UTC)
    start = end - (baseline_days + steady_days + 1) * DAY
    baseline_end = start + baseline_days * DAY
    drop_start = start + (baseline_days + steady_days) * DAY
    sim_clock = SimClock(start)
    sim = Simulator(
        seed=seed,
        nixflex_campaigns=0,
        smsfactor_campaigns=0,
        clock=sim_clock,
        anchor=start,
        rate_limit=None,
    )
    dropped_sender = sim.nixflex_senders()[dropped_index]
    # Before the rhythm: a drop reaches the campaigns added after it.
    drop = sim.drop_delivery(dropped_sender, points, drop_start)
    rhythm = add_daily_rhythm(
        sim,
        start,
        baseline_days + steady_days + 1,
        every_hours=every_hours,
        nixflex_size=nixflex_size,
        smsfactor_size=smsfactor_size,
        smsfactor_senders=smsfactor_senders,
    )
    dropped = _under_drop(rhythm, drop)
    result = Scenario(
        settings=asdict(settings),
        seed=seed,
        baseline_days=baseline_days,
        steady_days=steady_days,
        sync_every_hours=sync_every / timedelta(hours=1),
        points=points,
        every_hours=every_hours,
        nixflex_size=nixflex_size,
        smsfactor_size=smsfactor_size,
        start=start.isoformat(),
        drop_start=drop_start.isoformat(),
        end=end.isoformat(),
        dropped_sender=dropped_sender,
        dropped_campaigns=dropped,
        segments=[],
        campaigns=len(rhythm),
        syncs=0,
    )
    segments: set[str] = set()
    first_loaded_sync: int | None = None
    with (
        serve(sim) as base_url,
        httpx.Client(timeout=60) as http,
        clock.following(sim_clock.now),
    ):
        nixflex, smsfactor = _clients(base_url, http)
        now = start
        while now < end:
            sim_clock.advance(sync_every)
            now += sync_every
            result.syncs += 1
            began_sync = time.monotonic()
            _check(result, fetch_nixflex(nixflex, engine))
            _check(result, fetch_smsfactor(smsfactor, engine))
            load_pending(engine)
            began_detect = time.monotonic()
            result.sync_seconds += began_detect - began_sync
            if now < baseline_end:
                if progress and (now - start) % DAY == timedelta(0):
                    progress(f"{now:%Y-%m-%d %H:%M}: baseline day {(now - start) // DAY} synced")
                continue
            finding = delivery_drops(engine, now, settings)
            judged = set(judged_segments(finding, settings))
            segments.update(row["segment"] for row in finding.rows)
            if now < drop_start:
                result.steady_syncs += 1
                result.steady_evaluations += len(finding.rows)
                result.steady_judged += len(judged)
                result.steady_flagged += [_with_time(r, now) for r in finding.offending]
                for row in finding.rows:
                    if row["segment"] in judged and row["drop_percent"] is not None:
                        largest = result.steady_largest_drop
                        if largest is None or row["drop_percent"] > largest["drop_percent"]:
                            result.steady_largest_drop = _with_time(row, now)
            else:
                loaded = _loaded(engine, dropped, now)
                if loaded and first_loaded_sync is None:
                    first_loaded_sync = result.syncs
                    result.first_loaded_at = now.isoformat()
                if loaded >= settings.min_messages and result.first_loaded_enough_at is None:
                    result.first_loaded_enough_at = now.isoformat()
                mine = next(
                    (
                        r
                        for r in finding.rows
                        if r["provider"] == "nixflex" and r["sender"] == dropped_sender
                    ),
                    None,
                )
                result.drop_syncs.append(
                    {
                        "as_of": now.isoformat(),
                        "hours_since_drop": (now - drop_start) / timedelta(hours=1),
                        "loaded_under_drop": loaded,
                        "row": mine,
                    }
                )
                for row in finding.offending:
                    if row["provider"] != "nixflex" or row["sender"] != dropped_sender:
                        result.other_flagged.append(_with_time(row, now))
                    elif first_loaded_sync is None:
                        result.dropped_flagged_early.append(_with_time(row, now))
                    elif result.flagged_at is None:
                        result.flagged_at = now.isoformat()
                        result.syncs_to_flag = result.syncs - first_loaded_sync + 1
                        result.hours_to_flag = (now - drop_start) / timedelta(hours=1)
                        result.flagged_row = row
            result.detect_seconds += time.monotonic() - began_detect
            if progress and (now - start) % DAY == timedelta(0):
                progress(
                    f"{now:%Y-%m-%d %H:%M}: {result.steady_judged} judged, "
                    f"{len(result.steady_flagged)} flagged in the steady period so far"
                )
    result.segments = sorted(segments)
    result.sync_seconds = round(result.sync_seconds, 1)
    result.detect_seconds = round(result.detect_seconds, 1)
    result.wall_seconds = round(time.monotonic() - began, 1)
    return result


def _under_drop(rhythm: list[RhythmCampaign], drop: DeliveryDrop) -> list[str]:
    """The rhythm's campaigns the drop reaches: its sender's, created at or after its start
    (a Nixflex campaign sends 2-30 s after creation; none is created just before it)."""
    close = [
        c
        for c in rhythm
        if c.sender == drop.sender
        and drop.start - timedelta(seconds=30) <= c.created_at < drop.start
    ]
    if close:
        raise ValueError(f"a campaign of {drop.sender} is created just before the drop's start")
    return [c.campaign_id for c in rhythm if c.sender == drop.sender and c.created_at >= drop.start]


def _check(result: Scenario, report: FetchReport) -> None:
    """A sync that could not read an account invalidates the run; other problems are kept."""
    if report.fatal:
        raise RuntimeError(f"{report.label}: {report.fatal}")
    result.fetch_problems += report.problems


def _figures(row: dict[str, Any] | None) -> str:
    if row is None:
        return "no outcomes in the window"
    baseline = "none" if row["baseline_rate"] is None else f"{row['baseline_rate']:.1%}"
    rate = "none" if row["delivery_rate"] is None else f"{row['delivery_rate']:.1%}"
    return (
        f"{rate} of {row['messages']} vs {baseline} of {row['baseline_messages']} "
        f"(drop {row['drop_percent']} %)"
    )


def table_text(s: Scenario) -> str:
    """The scenario's figures as the bench prints them."""
    flagged = s.flagged_row
    rows = [
        ("steady: syncs judged by the rule", f"{s.steady_syncs}",
         f"{s.steady_days} days after a {s.baseline_days}-day baseline, one sync every "
         f"{s.sync_every_hours:g} h"),
        ("steady: segment-evaluations / judged", f"{s.steady_evaluations} / {s.steady_judged}",
         f"{len(s.segments)} segments; judged: >= {s.settings['min_messages']} outcomes in "
         "the window and in the baseline"),
        ("steady: flagged (false alerts)", str(len(s.steady_flagged)), "target 0"),
        ("steady: largest drop among judged",
         "-" if s.steady_largest_drop is None else f"{s.steady_largest_drop['drop_percent']} %",
         "" if s.steady_largest_drop is None
         else f"{s.steady_largest_drop['segment']} at {s.steady_largest_drop['as_of']}: "
         f"{_figures(s.steady_largest_drop)}; flagged above {s.settings['drop_percent']} %"),
        ("drop: first outcome under the drop loaded", s.first_loaded_at or "never", ""),
        ("drop: dropped sender flagged",
         "never" if s.syncs_to_flag is None else f"sync {s.syncs_to_flag}",
         "" if flagged is None
         else f"{s.hours_to_flag:g} h after the drop started; {_figures(flagged)}; grown: "
         f"{flagged['grown_categories']}"),
        ("drop: dropped sender flagged before its drop", str(len(s.dropped_flagged_early)),
         "target 0"),
        ("drop: other segments flagged", str(len(s.other_flagged)), "target 0"),
        ("wall time", f"{s.wall_seconds} s",
         f"syncs {s.sync_seconds} s, rule {s.detect_seconds} s, {s.syncs} syncs, "
         f"{s.campaigns} campaigns"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b:>18}  {c}" for a, b, c in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-days", type=int, default=None)
    parser.add_argument("--steady-days", type=int, default=7)
    parser.add_argument("--sync-every-hours", type=float, default=1.0)
    parser.add_argument("--points", type=float, default=30.0)
    parser.add_argument(
        "--dropped-index", type=int, default=0, help="which Nixflex sender drops (0, 1 or 2)"
    )
    args = parser.parse_args()
    settings = DetectionSettings()
    if args.baseline_days is not None:
        settings = DetectionSettings(baseline_days=args.baseline_days)
    print(f"bench-detect on {machine()}", file=sys.stderr)
    with warehouse_database("detection") as engine:
        scenario = run_scenario(
            engine,
            steady_days=args.steady_days,
            sync_every=timedelta(hours=args.sync_every_hours),
            points=args.points,
            settings=settings,
            dropped_index=args.dropped_index,
            progress=_log,
        )
    for row in scenario.steady_flagged + scenario.dropped_flagged_early + scenario.other_flagged:
        print(f"flagged {row['segment']} at {row['as_of']}: {_figures(row)}", file=sys.stderr)
    path = write_result("detection", {**asdict(scenario), "machine": machine()})
    print(table_text(scenario))
    print(f"written to {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
