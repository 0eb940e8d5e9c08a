"""The poller's staleness bound, as a property of any campaign layout the vendors allow.

The promise: for every campaign that is not settled, any change the vendor's list shows at the
start of a sync (its status or any count; for SMSFactor the history rows are the counters) is
loaded by the end of that sync, whatever the campaign ids, creation dates, send dates and
schedules. Settled means a final status and a last message that left more than 72 h ago. A
campaign created at or before a sync whose send date is within the last 72 h is in the
warehouse after it.

Each example lays out, on a fresh simulator over real HTTP, a background of older campaigns
(most of them settled) and campaigns with random ids (SMSFactor), creation and send dates and
schedules: drafts launched later or never, campaigns scheduled ahead, sent long after their
creation, held in moderation. It runs a first sync at T0 (a full pass) and one to three more
after gaps of minutes to hours, the clock frozen during each (one poll of the vendor with
five-campaign pages, then ``load_pending``). At each sync's instant it reads what the vendor
serves, over HTTP, and checks every campaign whose served row changed since the previous sync
or that is not settled by the documented rule: ``sms.dim_campaign.status`` and the
``sms.campaign_delivery`` counts equal the served status and the counts recomputed by the
documented rules (``tests.sync_helpers``), never anything the product computed.

Below the properties, named regression tests keep exact layouts: each distinct failure the
properties found, as shrunk, and two written by hand after the promise's own example (a
campaign created early, so low in the list or low in id, that sends between two close syncs).
Examples per property: ``STALENESS_EXAMPLES`` (default 50, about a minute and a half for the
file per backend on two cores; derandomized and with no example database under ``CI=true``).
Shrinking a failure takes a few minutes more.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from pipelines import clock as pipeline_clock
from pipelines.fetch import fetch_nixflex, fetch_smsfactor
from pipelines.polling.policy import PollingPolicy
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock, Simulator, serve
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.lanes import load_pending
from tests.conftest import _TABLES, T0
from tests.sync_helpers import rows, stale_campaigns

pytestmark = pytest.mark.slow

SMALL_PAGES = PollingPolicy(nixflex_page_size=5, smsfactor_page_size=5)
SETTLE = timedelta(hours=72)  # "after 72 hours a further update is unlikely" (Twilio)
NIXFLEX_FINAL = frozenset({"done", "failed"})
SMSFACTOR_FINAL = frozenset({"Sent", "Denied"})
DAY = 24 * 60  # instants are minutes from T0
NIXFLEX_KINDS = ("immediate", "scheduled", "launched", "draft")

# --- how many examples ---------------------------------------------------------------------

CI = bool(os.environ.get("CI"))
EXAMPLES = int(os.environ.get("STALENESS_EXAMPLES", "50"))
settings.register_profile(
    "staleness",
    deadline=None,  # an example is several syncs against a real Postgres
    max_examples=EXAMPLES,
    # The warehouse fixture is function-scoped: each example empties it itself.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "staleness-ci",
    settings.get_profile("staleness"),
    derandomize=True,  # the same examples on every run: a red CI is reproducible
    database=None,
)
PROFILE = settings.get_profile("staleness-ci" if CI else "staleness")


# --- campaign layouts ----------------------------------------------------------------------


def at(minutes: int) -> datetime:
    """The instant ``minutes`` after T0 (before it when negative)."""
    return T0 + timedelta(minutes=minutes)


@dataclass(frozen=True)
class NixflexPlan:
    """A Nixflex campaign to lay out; instants in minutes from T0.

    ``kind`` as in ``Simulator.add_nixflex_campaign``; ``send`` is its ``send_at`` (None: a few
    seconds after creation for "immediate", never for "draft").
    """

    created: int
    kind: str = "immediate"
    send: int | None = None
    size: int = 5

    def send_minute(self) -> float:
        """When its first message leaves (inf for a draft for ever)."""
        if self.kind == "draft":
            return math.inf
        return self.created if self.send is None else self.send


@dataclass(frozen=True)
class SmsfactorPlan:
    """An SMSFactor campaign to lay out; instants in minutes from T0.

    ``campaign_id`` None takes the next drawn id; ``send`` None sends at creation; ``held``
    keeps it "In moderation" until then.
    """

    created: int
    campaign_id: int | None = None
    send: int | None = None
    held: int | None = None
    size: int = 500

    def send_minute(self) -> int:
        """The send date the vendor shows."""
        return self.created if self.send is None else self.send

    def start_minute(self) -> int:
        """When its messages really leave: the send date, or the release if later."""
        return self.send_minute() if self.held is None else max(self.send_minute(), self.held)


@dataclass(frozen=True)
class Scenario:
    """Campaigns of one vendor and the gaps (minutes) between the syncs after the first."""

    campaigns: tuple[NixflexPlan, ...] | tuple[SmsfactorPlan, ...]
    gaps: tuple[int, ...] = (30,)


# Creation instants: weeks ago (settled unless held back), the last days (inside or near the
# 72 h window), or after the first sync (a later sync must find them).
CREATED = st.one_of(
    st.integers(-40 * DAY, -15 * DAY),
    st.integers(-15 * DAY, -4 * DAY),
    st.integers(-4 * DAY, -1),
    st.integers(0, 6 * 60),
)
# Send, launch and release instants: days before T0, or around and between the syncs.
LATER = st.one_of(st.integers(-4 * DAY, -1), st.integers(-60, 8 * 60))
# Older campaigns sent at once: weeks ago, or in flight at T0.
BACKGROUND = st.lists(
    st.one_of(st.integers(-40 * DAY, -4 * DAY), st.integers(-180, -1)), max_size=10
)
# Gaps between syncs: minutes (a campaign read moments ago) to a few hours.
GAP = st.one_of(st.integers(1, 59), st.integers(60, 300))
GAPS = st.lists(GAP, min_size=1, max_size=3).map(tuple)


@st.composite
def nixflex_scenarios(draw: st.DrawFn) -> Scenario:
    background = [
        NixflexPlan(created, size=draw(st.integers(1, 8))) for created in sorted(draw(BACKGROUND))
    ]
    campaigns = []
    for _ in range(draw(st.integers(1, 6))):
        created, kind = draw(CREATED), draw(st.sampled_from(NIXFLEX_KINDS))
        send = None
        if kind != "draft":
            wanted = draw(st.none() | LATER) if kind == "immediate" else draw(LATER)
            send = None if wanted is None else max(wanted, created)
        campaigns.append(NixflexPlan(created, kind, send, draw(st.integers(1, 12))))
    return Scenario(tuple(background + campaigns), draw(GAPS))


# Explicit SMSFactor ids: "low" ones (moved from a sister platform) sort below every drawn id,
# "high" ones above; "drawn" takes the next drawn id, in insertion order, not creation order.
ID_BANDS = {"drawn": None, "low": 1_000_000, "high": 90_000_000}


@st.composite
def smsfactor_scenarios(draw: st.DrawFn) -> Scenario:
    background = [
        SmsfactorPlan(created, size=draw(st.integers(100, 3000)))
        for created in sorted(draw(BACKGROUND))
    ]
    campaigns = []
    for index in range(draw(st.integers(1, 6))):
        base = ID_BANDS[draw(st.sampled_from(tuple(ID_BANDS)))]
        created = draw(CREATED)
        send, held = draw(st.none() | LATER), draw(st.none() | LATER)
        campaigns.append(
            SmsfactorPlan(
                created,
                campaign_id=None if base is None else base + index,
                send=None if send is None else max(send, created),
                held=None if held is None else max(held, created),
                size=draw(st.integers(100, 3000)),
            )
        )
    return Scenario(tuple(background + campaigns), draw(GAPS))


# --- running the syncs ---------------------------------------------------------------------


@pytest.fixture
def sim_clock(monkeypatch: pytest.MonkeyPatch) -> SimClock:
    """The clock the vendors and the pipeline share; each example sets it back to T0."""
    clock = SimClock(start=T0)
    monkeypatch.setattr(pipeline_clock, "utcnow", clock.now)
    return clock


def empty_warehouse(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"truncate {', '.join(_TABLES)} restart identity cascade"))


def bare_simulator(clock: SimClock) -> Simulator:
    """A simulator holding only the campaigns a scenario adds (no rate limit: the test's own
    reads must not eat the poller's budget)."""
    clock.set(T0)
    return Simulator(
        seed=1,
        nixflex_campaigns=0,
        smsfactor_campaigns=0,
        clock=clock,
        anchor=T0,
        rate_limit=None,
    )


def settled_nixflex(detail: dict[str, Any], now: datetime) -> bool:
    """Final (done/failed, nothing pending) and its last message left more than 72 h ago."""
    if detail["status"] not in NIXFLEX_FINAL or detail["pending_count"]:
        return False
    sent = [r["sent_at"] for r in detail["recipients"] if r.get("sent_at")]
    if not sent:
        return False
    last = max(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in sent)
    return last + SETTLE <= now


def settled_smsfactor(row: dict[str, Any], plan: SmsfactorPlan, now: datetime) -> bool:
    """Final (Sent/Denied) and its messages left more than 72 h ago (the test laid it out, so
    it knows when they really left, even when moderation held them past the shown date)."""
    return row["status"] in SMSFACTOR_FINAL and at(plan.start_minute()) + SETTLE <= now


def sent_lately(send_minute: float, created: int, now: datetime) -> bool:
    """Created at or before ``now`` with a send date within the 72 h before it."""
    if math.isinf(send_minute) or at(created) > now:
        return False
    return now - SETTLE <= at(int(send_minute)) <= now


class CampaignAbsent(AssertionError):
    """A campaign the sync had to load is not in the warehouse at all."""


class CampaignStale(AssertionError):
    """A campaign the sync had to load is in the warehouse with an older state."""


def _summary(report: object) -> str:
    summary = getattr(report, "summary", None)
    return summary() if callable(summary) else repr(report)


def _check(
    vendor: str,
    engine: Engine,
    number: int,
    now: datetime,
    served: dict[str, dict[str, Any]],
    due: dict[str, str],
    plans: dict[str, object],
    recent: set[str],
    fetch: str,
) -> None:
    """Fail with every campaign in ``due`` (id -> why it is checked) that is stale or absent,
    and every ``recent`` campaign absent from the warehouse: ``CampaignAbsent`` when any is
    absent, else ``CampaignStale`` (two kinds, so that hypothesis keeps one case of each)."""
    stale = stale_campaigns(engine, vendor, {cid: served[cid] for cid in due})
    loaded = {
        r["campaign_id"]
        for r in rows(
            engine, "select campaign_id from sms.dim_campaign where provider = :p", p=vendor
        )
    }
    lines = [f"{cid} {plans[cid]!r} [{due[cid]}]: {what}" for cid, what in stale.items()]
    lines += [
        f"{cid} {plans[cid]!r} [sent within 72 h]: absent from the warehouse"
        for cid in sorted(recent - loaded - set(stale))
    ]
    if not lines:
        return
    offset = int((now - T0).total_seconds() // 60)
    message = "\n  ".join(
        [f"{vendor} sync {number} at T0{offset:+d} min left stale:", *lines, f"poll: {fetch}"]
    )
    if any("absent from the warehouse" in line for line in lines):
        raise CampaignAbsent(message)
    raise CampaignStale(message)


def run_nixflex(engine: Engine, clock: SimClock, scenario: Scenario) -> None:
    """Lay out ``scenario`` on Nixflex, sync at T0 and after each gap, check each sync."""
    empty_warehouse(engine)
    sim = bare_simulator(clock)
    plans: dict[str, object] = {}
    for plan in scenario.campaigns:
        assert isinstance(plan, NixflexPlan)
        send = None if plan.send is None else at(plan.send)
        cid = sim.add_nixflex_campaign(plan.size, at(plan.created), kind=plan.kind, send_at=send)
        plans[cid] = plan
    headers = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
    with (
        serve(sim) as base_url,
        httpx.Client(timeout=30) as http,
        httpx.Client(base_url=f"{base_url}/nixflex/v1", headers=headers, timeout=30) as vendor,
    ):
        client = NixflexClient(http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1")
        previous: dict[str, dict[str, Any]] = {}
        for number, gap in enumerate((0, *scenario.gaps), start=1):
            clock.advance(timedelta(minutes=gap))
            now = clock.now()
            listed = _nixflex_list(vendor)  # what the list shows at the start of the sync
            served = {cid: vendor.get(f"/sms/campaigns/{cid}").json() for cid in listed}
            report = fetch_nixflex(client, engine, policy=SMALL_PAGES)
            load_pending(engine)
            due = {}
            for cid, row in listed.items():
                if previous.get(cid) != row:
                    due[cid] = "new" if cid not in previous else f"changed since sync {number - 1}"
                elif not settled_nixflex(served[cid], now):
                    due[cid] = "not settled"
            recent = {
                cid
                for cid, plan in plans.items()
                if isinstance(plan, NixflexPlan)
                and sent_lately(plan.send_minute(), plan.created, now)
            }
            _check("nixflex", engine, number, now, served, due, plans, recent, _summary(report))
            previous = listed


def _nixflex_list(vendor: httpx.Client) -> dict[str, dict[str, Any]]:
    listed: dict[str, dict[str, Any]] = {}
    while True:
        page = vendor.get("/sms/campaigns", params={"limit": 100, "offset": len(listed)})
        campaigns = page.json()["campaigns"]
        listed.update((c["campaign_id"], c) for c in campaigns)
        if len(campaigns) < 100:
            return listed


def run_smsfactor(engine: Engine, clock: SimClock, scenario: Scenario) -> None:
    """Lay out ``scenario`` on SMSFactor, sync at T0 and after each gap, check each sync."""
    empty_warehouse(engine)
    sim = bare_simulator(clock)
    plans: dict[str, object] = {}
    for plan in scenario.campaigns:
        assert isinstance(plan, SmsfactorPlan)
        cid = sim.add_smsfactor_campaign(
            plan.size,
            at(plan.created),
            campaign_id=plan.campaign_id,
            send_at=None if plan.send is None else at(plan.send),
            held_until=None if plan.held is None else at(plan.held),
        )
        plans[cid] = plan
    headers = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/json"}
    with (
        serve(sim) as base_url,
        httpx.Client(timeout=30) as http,
        httpx.Client(base_url=f"{base_url}/smsfactor", headers=headers, timeout=30) as vendor,
    ):
        client = SmsFactorClient(
            http, api_token=SMSFACTOR_DEMO_TOKEN, base_url=f"{base_url}/smsfactor"
        )
        previous: dict[str, dict[str, Any]] = {}
        for number, gap in enumerate((0, *scenario.gaps), start=1):
            clock.advance(timedelta(minutes=gap))
            now = clock.now()
            history = vendor.get("/campaigns", params={"length": 1000, "sort": "-id"}).json()
            served = {c["id"]: c for c in history["campaigns"]}
            assert len(served) == history["totalRecords"] <= 1000
            report = fetch_smsfactor(client, engine, policy=SMALL_PAGES)
            load_pending(engine)
            due = {}
            for cid, row in served.items():
                plan = plans[cid]
                assert isinstance(plan, SmsfactorPlan)
                if previous.get(cid) != row:
                    due[cid] = "new" if cid not in previous else f"changed since sync {number - 1}"
                elif not settled_smsfactor(row, plan, now):
                    due[cid] = "not settled"
            recent = {
                cid
                for cid, plan in plans.items()
                if isinstance(plan, SmsfactorPlan)
                and sent_lately(plan.send_minute(), plan.created, now)
            }
            _check("smsfactor", engine, number, now, served, due, plans, recent, _summary(report))
            previous = served


# --- the properties ------------------------------------------------------------------------


@settings(PROFILE)
@given(scenario=nixflex_scenarios())
def test_nixflex_changes_are_loaded_by_the_sync_that_sees_them(
    engine: Engine, sim_clock: SimClock, scenario: Scenario
) -> None:
    run_nixflex(engine, sim_clock, scenario)


@settings(PROFILE)
@given(scenario=smsfactor_scenarios())
def test_smsfactor_changes_are_loaded_by_the_sync_that_sees_them(
    engine: Engine, sim_clock: SimClock, scenario: Scenario
) -> None:
    run_smsfactor(engine, sim_clock, scenario)


# --- regression cases: layouts the properties found, and the promise's own examples ---------


def test_nixflex_campaign_created_before_the_lookback_and_sent_late_is_read_when_it_changes(
    engine: Engine, sim_clock: SimClock
) -> None:
    """A Nixflex campaign created 15 days before T0 sends one message a minute before the first
    sync; five settled campaigns are newer, so it sits on the list's second page. Its receipt
    comes in before the second sync, 3 minutes later: that sync must load it even though the
    campaign was read 3 minutes ago and was created long before everything else it watches."""
    run_nixflex(
        engine,
        sim_clock,
        Scenario(
            (
                NixflexPlan(-4 * DAY, size=1),
                NixflexPlan(-4 * DAY, size=1),
                NixflexPlan(-15 * DAY, send=-1, size=1),
                NixflexPlan(-15 * DAY, size=1),
                NixflexPlan(-15 * DAY, size=1),
                NixflexPlan(-15 * DAY, size=1),
            ),
            gaps=(3,),
        ),
    )


def test_smsfactor_low_id_campaign_is_read_when_its_counters_move(
    engine: Engine, sim_clock: SimClock
) -> None:
    """An SMSFactor campaign with a low id (moved from a sister platform) is created and sent a
    minute before the first sync; five settled campaigns created 15 days ago have higher ids,
    so it sits on the second page of the history by id. Its counters move before the second
    sync, a minute later: that sync must load them although the campaign was read a minute
    ago and lies outside the pages read by id."""
    old = SmsfactorPlan(-15 * DAY, size=100)
    run_smsfactor(
        engine,
        sim_clock,
        Scenario(
            (old, old, old, old, SmsfactorPlan(-1, campaign_id=1_000_004, size=100), old),
            gaps=(1,),
        ),
    )


def test_smsfactor_new_campaign_with_a_low_id_is_found(engine: Engine, sim_clock: SimClock) -> None:
    """An SMSFactor campaign with a low id (moved from a sister platform) is created and sent a
    minute after the first sync; five settled campaigns have higher ids, so the history by id
    shows it only on the second page. The second sync, an hour later, must find it: its send
    date is within the last 72 hours."""
    recent, old = SmsfactorPlan(-4 * DAY, size=100), SmsfactorPlan(-15 * DAY, size=100)
    run_smsfactor(
        engine,
        sim_clock,
        Scenario(
            (recent, recent, old, SmsfactorPlan(1, campaign_id=1_000_001, size=100), old, old),
            gaps=(60,),
        ),
    )


def test_smsfactor_campaign_held_in_moderation_past_its_send_date_is_read_after_release(
    engine: Engine, sim_clock: SimClock
) -> None:
    """An SMSFactor campaign with a low id, created 15 days ago to send at once, is held in
    moderation until a minute before the first sync, then sends; its ``date`` still shows the
    send date 15 days ago. Its counters keep moving after the first sync: the second, an hour
    later, must load them. The campaign is not settled (its messages left a minute before T0),
    whatever the shown send date says."""
    recent, old = SmsfactorPlan(-4 * DAY, size=100), SmsfactorPlan(-15 * DAY, size=100)
    held = SmsfactorPlan(-15 * DAY, campaign_id=1_000_000, held=-1, size=100)
    run_smsfactor(engine, sim_clock, Scenario((recent, recent, recent, held, old, old), gaps=(60,)))


def test_smsfactor_lone_campaign_released_from_moderation_is_read_as_it_sends(
    engine: Engine, sim_clock: SimClock
) -> None:
    """A lone SMSFactor campaign, created 15 days ago to send at once, is held in moderation
    until a minute before the first sync and sends then; its ``date`` still shows the send date
    15 days ago, outside any window of recent send dates. Its counters move in the minute up
    to the second sync: that sync must load them."""
    run_smsfactor(
        engine,
        sim_clock,
        Scenario((SmsfactorPlan(-15 * DAY, held=-1, size=100),), gaps=(1,)),
    )


def test_smsfactor_campaign_created_early_and_sent_late_is_read_when_it_sends(
    engine: Engine, sim_clock: SimClock
) -> None:
    """An SMSFactor campaign created 20 days ago, hence the lowest id, waits for a send date 10
    minutes after the first sync; five settled campaigns created since have higher ids. The
    second sync, 30 minutes after the first, must load it as sent with its counters."""
    newer = tuple(SmsfactorPlan(-10 * DAY + day * DAY, size=500) for day in range(5))
    run_smsfactor(
        engine,
        sim_clock,
        Scenario((SmsfactorPlan(-20 * DAY, send=10, size=500), *newer), gaps=(30,)),
    )


def test_nixflex_campaign_scheduled_weeks_ago_is_read_when_it_sends(
    engine: Engine, sim_clock: SimClock
) -> None:
    """A Nixflex campaign created 20 days ago is scheduled to send 10 minutes after the first
    sync; five settled campaigns are newer, so it sits on the list's second page. The second
    sync, 30 minutes after the first, must load it as sent with its counts."""
    newer = tuple(NixflexPlan(-10 * DAY + day * DAY, size=3) for day in range(5))
    run_nixflex(
        engine,
        sim_clock,
        Scenario((NixflexPlan(-20 * DAY, "scheduled", 10, 8), *newer), gaps=(30,)),
    )
