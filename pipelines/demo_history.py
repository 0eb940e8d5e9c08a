"""The demo's past week: the simulator's steady daily traffic with a delivery drop on one
sender, polled every two hours as the schedule would have polled it (plain fetch and load, no
Dagster run), so that the warehouse holds the history the detection checks compare with.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from pipelines.fetch import fetch_nixflex, fetch_smsfactor
from pipelines.simulator import (
    NIXFLEX_DEMO_KEY,
    SMSFACTOR_DEMO_TOKEN,
    DeliveryDrop,
    SimClock,
    Simulator,
)
from pipelines.simulator.nixflex import nixflex_agents
from pipelines.simulator.rhythm import add_daily_rhythm
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.migrate import ensure_migrated

# Every sender sends every RHYTHM_HOURS, the first Nixflex sender last DROPPED_AGO before now;
# DROP_BEGAN before now, its delivery fell by DROP_POINTS.
RHYTHM_HOURS = 8
HISTORY_DAYS = 8
DROPPED_AGO = timedelta(hours=4)
DROP_BEGAN = timedelta(hours=9)
DROP_POINTS = 30.0


def _quiet(_: str) -> None:
    return None


def demo_simulator(now: datetime, lead: timedelta) -> tuple[Simulator, str, datetime]:
    """The demo's simulator at ``now - lead`` (its clock and anchor), with its laid-out
    campaigns, the rhythm, and the drop; return it, the dropped sender and where history
    starts. No rate limit: the history is polled every two hours."""
    seed = 42
    sender = nixflex_agents(seed)[0][1]
    start = now - lead
    drop = DeliveryDrop(sender, DROP_POINTS, now - DROP_BEGAN)
    sim = Simulator(seed, clock=SimClock(start=start), anchor=start, rate_limit=None, drops=[drop])
    history = now - DROPPED_AGO - timedelta(days=HISTORY_DAYS)
    add_daily_rhythm(sim, history, HISTORY_DAYS + 1, every_hours=RHYTHM_HOURS)
    return sim, sender, history


def poll_history(
    engine: Engine, sim: Simulator, base_url: str, start: datetime, end: datetime, every: timedelta
) -> int:
    """Set the simulator's clock (which the pipeline's follows) to each ``every`` from
    ``start`` until before ``end`` and sync into ``engine`` there; return how many syncs
    ran."""
    ensure_migrated(engine)
    syncs, at = 0, start
    with httpx.Client(timeout=60) as http:
        nixflex = NixflexClient(http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1")
        smsfactor = SmsFactorClient(
            http, api_token=SMSFACTOR_DEMO_TOKEN, base_url=f"{base_url}/smsfactor"
        )
        while at < end:
            sim.clock.set(at)
            fetch_nixflex(nixflex, engine, progress=_quiet)
            fetch_smsfactor(smsfactor, engine, progress=_quiet)
            load_pending(engine, progress=_quiet)
            syncs, at = syncs + 1, at + every
    return syncs
