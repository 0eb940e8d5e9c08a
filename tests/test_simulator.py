"""The vendor simulator over real HTTP: determinism, progress in time, errors, paging, formats,
scale, rate limits, several accounts, the control API and the command line."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from pipelines.simulator import (
    NIXFLEX_DEMO_KEY,
    SMSFACTOR_DEMO_TOKEN,
    SimClock,
    Simulator,
    serve,
)

START = datetime(2026, 5, 17, 12, 0, tzinfo=UTC)
RANK = {"pending": 0, "queued": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
NIXFLEX = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
SMSFACTOR_JSON = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/json"}


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def sim(clock: SimClock) -> Simulator:
    return Simulator(seed=42, clock=clock)


@pytest.fixture
def http(sim: Simulator) -> Iterator[httpx.Client]:
    with serve(sim) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def nixflex_detail(http: httpx.Client, campaign_id: str) -> dict:
    response = http.get(f"/nixflex/v1/sms/campaigns/{campaign_id}", headers=NIXFLEX)
    assert response.status_code == 200
    return response.json()


def get_without_accept(
    http: httpx.Client, path: str, token: str = SMSFACTOR_DEMO_TOKEN
) -> httpx.Response:
    """GET with no Accept header at all (httpx sends ``*/*`` unless told otherwise)."""
    request = http.build_request("GET", path, headers={"Authorization": f"Bearer {token}"})
    del request.headers["Accept"]
    return http.send(request)


def counts_from_recipients(campaign: dict) -> dict[str, int]:
    """The documented counting rule, applied to the recipients the vendor returned."""
    statuses = [recipient["status"] for recipient in campaign["recipients"]]
    return {
        "total_count": len(statuses),
        "delivered_count": statuses.count("delivered"),
        "failed_count": sum(s in ("failed", "undelivered", "sent") for s in statuses),
        "pending_count": sum(s in ("pending", "queued") for s in statuses),
    }


def snapshot(seed: int) -> list[bytes]:
    """Raw bodies of both vendors' list and detail endpoints for a fresh simulator."""
    sim = Simulator(seed=seed, clock=SimClock(START))
    nixflex_id, smsfactor_id = sim.nixflex_campaign_ids()[0], sim.smsfactor_campaign_ids()[0]
    with serve(sim) as base_url, httpx.Client(base_url=base_url) as http:
        return [
            http.get("/nixflex/v1/sms/campaigns?limit=100", headers=NIXFLEX).content,
            http.get(f"/nixflex/v1/sms/campaigns/{nixflex_id}", headers=NIXFLEX).content,
            http.get("/smsfactor/campaigns", headers=SMSFACTOR_JSON).content,
            get_without_accept(http, f"/smsfactor/campaign/{smsfactor_id}").content,  # XML
        ]


def test_same_seed_gives_the_same_bytes() -> None:
    assert snapshot(7) == snapshot(7)
    assert snapshot(7) != snapshot(8)


def test_recipient_statuses_only_move_forward(
    sim: Simulator, clock: SimClock, http: httpx.Client
) -> None:
    listing = http.get("/nixflex/v1/sms/campaigns", params={"status": "running"}, headers=NIXFLEX)
    campaign_id = listing.json()["campaigns"][0]["campaign_id"]
    previous = nixflex_detail(http, campaign_id)
    assert previous["status"] == "running"
    moved = False
    for step in (timedelta(minutes=10), timedelta(hours=2), timedelta(hours=50)):
        clock.advance(step)
        current = nixflex_detail(http, campaign_id)
        truth = counts_from_recipients(current)
        assert {key: current[key] for key in truth} == truth
        for before, after in zip(previous["recipients"], current["recipients"], strict=True):
            assert before["phone"] == after["phone"]
            assert RANK[after["status"]] >= RANK[before["status"]], after["phone"]
            moved |= after["status"] != before["status"]
        previous = current
    assert moved
    assert previous["status"] == "done"
    assert previous["pending_count"] == 0
    assert all(r["twilio_sid"].startswith("SM") for r in previous["recipients"])


def test_smsfactor_counters_grow_until_sent(clock: SimClock, http: httpx.Client) -> None:
    history = http.get("/smsfactor/campaigns", headers=SMSFACTOR_JSON).json()
    in_progress = [c for c in history["campaigns"] if c["status"] == "In progress"]
    campaign_id = in_progress[0]["id"]
    counters = ("delivered", "error", "expired", "network_error", "stop")
    before = in_progress[0]
    for _ in range(4):
        clock.advance(timedelta(hours=2))
        body = http.get(f"/smsfactor/campaign/{campaign_id}", headers=SMSFACTOR_JSON).json()
        after = body["campaign"][0]
        assert all(int(after[name]) >= int(before[name]) for name in counters)
        before = after
    assert before["status"] == "Sent"
    assert all(isinstance(value, str) for key, value in before.items() if key != "lists")


def test_auth_is_rejected_in_each_vendors_shape(http: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nxf_demo:wrong"}):
        response = http.get("/nixflex/v1/sms/campaigns", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.json()["error"]["code"] == "invalid_api_key"
    wrong = {"Authorization": "Bearer nope", "Accept": "application/json"}
    response = http.get("/smsfactor/campaigns", headers=wrong)
    assert response.status_code == 401
    assert response.json()["status"] == -1
    response = get_without_accept(http, "/smsfactor/campaigns", token="nope")
    assert response.status_code == 401
    assert ET.fromstring(response.content).findtext("status") == "-1"


def test_nixflex_paging_covers_every_visible_campaign_once(
    sim: Simulator, http: httpx.Client
) -> None:
    seen: list[str] = []
    remaining = []
    for offset in range(0, 15, 5):
        params = {"limit": 5, "offset": offset}
        response = http.get("/nixflex/v1/sms/campaigns", params=params, headers=NIXFLEX)
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        page = response.json()
        assert page["count"] == 12
        seen += [campaign["campaign_id"] for campaign in page["campaigns"]]
    assert seen == sim.nixflex_campaign_ids()
    # The budget counts down within a real-time window (and starts over in the next one).
    assert remaining[0] == 599
    assert all(after in (before - 1, 599) for before, after in pairwise(remaining))
    for bad in ("101", "0", "ten"):
        response = http.get("/nixflex/v1/sms/campaigns", params={"limit": bad}, headers=NIXFLEX)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request"


def test_smsfactor_paging_and_sort(sim: Simulator, http: httpx.Client) -> None:
    ids = []
    for start in (0, 5, 10):
        params = {"start": start, "length": 5}
        page = http.get("/smsfactor/campaigns", params=params, headers=SMSFACTOR_JSON).json()
        assert page["totalRecords"] == page["totalDisplayRecords"] == 12
        ids += [campaign["id"] for campaign in page["campaigns"]]
    assert ids == sim.smsfactor_campaign_ids()
    params = {"sort": "id", "length": 1000}
    oldest_first = http.get("/smsfactor/campaigns", params=params, headers=SMSFACTOR_JSON).json()
    assert [c["id"] for c in oldest_first["campaigns"]] == ids[::-1]


def test_smsfactor_answers_xml_without_accept(sim: Simulator, http: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}"}
    campaign_id = sim.smsfactor_campaign_ids()[-1]
    response = get_without_accept(http, f"/smsfactor/campaign/{campaign_id}")
    assert response.headers["content-type"] == "application/xml"
    campaign = ET.fromstring(response.content).find("campaign")
    as_json = http.get(f"/smsfactor/campaign/{campaign_id}", headers=SMSFACTOR_JSON).json()
    expected = as_json["campaign"][0]
    assert campaign is not None
    assert campaign.findtext("id") == campaign_id
    assert [el.findtext("id") for el in campaign.findall("lists")] == [
        item["id"] for item in expected["lists"]
    ]
    assert campaign.findtext("delivered") == expected["delivered"]
    history = ET.fromstring(get_without_accept(http, "/smsfactor/campaigns").content)
    assert len(history.findall("campaigns/campaign")) == 12
    missing = http.get("/smsfactor/campaign/1", headers={**auth, "Accept": "application/xml"})
    assert missing.status_code == 200
    assert ET.fromstring(missing.content).findtext("status") == "-5"


def test_miscounted_campaign_disagrees_with_its_recipients(clock: SimClock) -> None:
    victim = Simulator(seed=42, clock=clock).nixflex_campaign_ids()[-1]
    sim = Simulator(seed=42, clock=clock, miscounted_nixflex=[victim])
    with serve(sim) as base_url, httpx.Client(base_url=base_url) as http:
        detail = nixflex_detail(http, victim)
        truth = counts_from_recipients(detail)
        assert detail["delivered_count"] == truth["delivered_count"] + 1
        assert detail["failed_count"] == truth["failed_count"] - 1
        listing = http.get("/nixflex/v1/sms/campaigns?limit=100", headers=NIXFLEX).json()
        summary = next(c for c in listing["campaigns"] if c["campaign_id"] == victim)
        assert summary["delivered_count"] == detail["delivered_count"]
        other = nixflex_detail(http, sim.nixflex_campaign_ids()[-2])
        assert {k: other[k] for k in truth} == counts_from_recipients(other)


def test_new_campaigns_appear_only_once_created(
    sim: Simulator, clock: SimClock, http: httpx.Client
) -> None:
    campaign_id = sim.add_nixflex_campaign(size=30, created_at=START + timedelta(minutes=5))
    assert http.get(f"/nixflex/v1/sms/campaigns/{campaign_id}", headers=NIXFLEX).status_code == 404
    clock.advance(timedelta(minutes=6))
    listing = http.get("/nixflex/v1/sms/campaigns", params={"limit": 1}, headers=NIXFLEX).json()
    assert listing["campaigns"][0]["campaign_id"] == campaign_id
    assert listing["count"] == 13
    assert sim.calls[("nixflex", "get")] == 1
    assert sim.calls[("nixflex", "list")] == 1


def test_smsfactor_dates_are_paris_wall_clock(sim: Simulator, http: httpx.Client) -> None:
    campaign_id = sim.add_smsfactor_campaign(created_at=datetime(2026, 5, 17, 10, 0, tzinfo=UTC))
    body = http.get(f"/smsfactor/campaign/{campaign_id}", headers=SMSFACTOR_JSON).json()
    assert body["campaign"][0]["creation_date"] == "2026-05-17 12:00:00"  # CEST, UTC+2


def test_ten_thousand_recipients_render_quickly(sim: Simulator, http: httpx.Client) -> None:
    campaign_id = sim.add_nixflex_campaign(size=10_000, created_at=START - timedelta(minutes=5))
    started = time.perf_counter()
    detail = nixflex_detail(http, campaign_id)
    assert time.perf_counter() - started < 1.0
    assert detail["total_count"] == len({r["phone"] for r in detail["recipients"]}) == 10_000


# Adversarial layouts: campaigns added with their own dates, schedules and ids.

DAY, HOUR, SECOND = timedelta(days=1), timedelta(hours=1), timedelta(seconds=1)


@pytest.fixture
def bare(clock: SimClock) -> Iterator[tuple[Simulator, httpx.Client]]:
    """A simulator with no laid-out campaigns and no rate limit, on real HTTP."""
    sim = Simulator(
        seed=5, nixflex_campaigns=0, smsfactor_campaigns=0, clock=clock, rate_limit=None
    )
    with serve(sim) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield sim, client


def nixflex_at(http: httpx.Client, clock: SimClock, at: datetime, campaign_id: str) -> dict:
    clock.set(at)
    return nixflex_detail(http, campaign_id)


def smsfactor_history(http: httpx.Client, **params: object) -> dict:
    return http.get("/smsfactor/campaigns", params=params, headers=SMSFACTOR_JSON).json()


def test_nixflex_kinds_hold_their_status_until_they_send(
    bare: tuple[Simulator, httpx.Client], clock: SimClock
) -> None:
    sim, http = bare
    created = START - 10 * DAY
    scheduled = sim.add_nixflex_campaign(12, created, kind="scheduled", send_at=START + 2 * HOUR)
    launched = sim.add_nixflex_campaign(12, created, kind="launched", send_at=START + 3 * HOUR)
    draft = sim.add_nixflex_campaign(12, created, kind="draft")
    late = sim.add_nixflex_campaign(12, created, send_at=START + HOUR)

    before = {cid: nixflex_at(http, clock, START, cid) for cid in (scheduled, launched, late)}
    assert before[scheduled]["status"] == "scheduled"
    assert before[scheduled]["scheduled_at"] == "2026-05-17T14:00:00Z"
    assert before[launched]["status"] == "draft"
    assert before[launched]["scheduled_at"] is None
    assert before[late]["status"] == "running"  # sends at once, queued behind its send start
    for detail in before.values():
        assert detail["pending_count"] == detail["total_count"] == 12
        assert all(r["sent_at"] is None and r["twilio_sid"] is None for r in detail["recipients"])

    after = {cid: nixflex_at(http, clock, START + 4 * HOUR, cid) for cid in before}
    for cid, send_at in ((scheduled, "14:00"), (launched, "15:00"), (late, "13:00")):
        detail = after[cid]
        assert detail["status"] == "done", cid
        assert min(r["sent_at"] for r in detail["recipients"]) >= f"2026-05-17T{send_at}:00Z"
        truth = counts_from_recipients(detail)
        assert {key: detail[key] for key in truth} == truth
    forever = nixflex_at(http, clock, START + 60 * DAY, draft)
    assert forever["status"] == "draft"
    assert forever["pending_count"] == forever["total_count"] == 12
    assert all(r["status"] == "pending" for r in forever["recipients"])


def test_nixflex_list_is_by_creation_whatever_the_send_dates(
    bare: tuple[Simulator, httpx.Client], clock: SimClock
) -> None:
    sim, http = bare
    oldest_sent_last = sim.add_nixflex_campaign(
        5, START - 20 * DAY, kind="launched", send_at=START - HOUR
    )
    newest = sim.add_nixflex_campaign(5, START - HOUR)
    middle = sim.add_nixflex_campaign(5, START - 2 * DAY, kind="scheduled", send_at=START + DAY)
    not_yet = sim.add_nixflex_campaign(5, START + HOUR)
    listing = http.get("/nixflex/v1/sms/campaigns", params={"limit": 100}, headers=NIXFLEX)
    campaigns = listing.json()["campaigns"]
    assert [c["campaign_id"] for c in campaigns] == [newest, middle, oldest_sent_last]
    assert [c["status"] for c in campaigns] == ["done", "scheduled", "done"]
    scheduled_only = http.get(
        "/nixflex/v1/sms/campaigns", params={"status": "scheduled"}, headers=NIXFLEX
    ).json()
    assert [c["campaign_id"] for c in scheduled_only["campaigns"]] == [middle]
    assert scheduled_only["count"] == 1
    clock.advance(2 * HOUR)
    assert http.get("/nixflex/v1/sms/campaigns", headers=NIXFLEX).json()["count"] == 4
    assert sim.nixflex_campaign_ids()[0] == not_yet


def test_nixflex_added_campaigns_only_move_forward_and_answer_the_same_again(
    bare: tuple[Simulator, httpx.Client], clock: SimClock
) -> None:
    sim, http = bare
    order = {"draft": 0, "scheduled": 0, "running": 1, "done": 2}
    ids = [
        sim.add_nixflex_campaign(8, START, kind="scheduled", send_at=START + 30 * 60 * SECOND),
        sim.add_nixflex_campaign(8, START - DAY, kind="launched", send_at=START + HOUR),
        sim.add_nixflex_campaign(8, START),
    ]
    instants = [START + step * 10 * 60 * SECOND for step in range(0, 60, 3)]
    seen = {cid: [nixflex_at(http, clock, at, cid) for at in instants] for cid in ids}
    for cid, details in seen.items():
        for before, after in pairwise(details):
            assert order[after["status"]] >= order[before["status"]], cid
            assert after["delivered_count"] >= before["delivered_count"], cid
            assert after["pending_count"] <= before["pending_count"], cid
            for old, new in zip(before["recipients"], after["recipients"], strict=True):
                assert RANK[new["status"]] >= RANK[old["status"]], cid
        assert details[-1]["status"] == "done", cid
    # A pure function of (plan, t): going back in time answers exactly what it did.
    assert [nixflex_at(http, clock, at, ids[1]) for at in instants] == seen[ids[1]]


def test_nixflex_rejects_impossible_plans(bare: tuple[Simulator, httpx.Client]) -> None:
    sim, _ = bare
    with pytest.raises(ValueError, match="precede"):
        sim.add_nixflex_campaign(5, START, send_at=START - HOUR)
    with pytest.raises(ValueError, match="needs send_at"):
        sim.add_nixflex_campaign(5, START, kind="scheduled")
    with pytest.raises(ValueError, match="no send_at"):
        sim.add_nixflex_campaign(5, START, kind="draft", send_at=START + HOUR)
    with pytest.raises(ValueError, match="kind"):
        sim.add_nixflex_campaign(5, START, kind="later")
    with pytest.raises(ValueError, match="tz-aware"):
        sim.add_nixflex_campaign(5, START, send_at=datetime(2026, 5, 18))


def test_smsfactor_explicit_ids_sort_by_number_not_by_insertion(
    bare: tuple[Simulator, httpx.Client],
) -> None:
    sim, http = bare
    drawn = sim.add_smsfactor_campaign(50, START - 3 * DAY)
    moved = sim.add_smsfactor_campaign(50, START - HOUR, campaign_id=1_000_123)  # sister platform
    high = sim.add_smsfactor_campaign(50, START - 9 * DAY, campaign_id=99_000_000)
    future = sim.add_smsfactor_campaign(50, START + HOUR, campaign_id=500)
    drawn_after = sim.add_smsfactor_campaign(50, START - 2 * DAY)
    assert int(drawn) < int(drawn_after) < int(high)
    ascending = smsfactor_history(http, sort="id", length=1000)
    assert [c["id"] for c in ascending["campaigns"]] == [moved, drawn, drawn_after, high]
    assert ascending["totalRecords"] == ascending["totalDisplayRecords"] == 4
    descending = smsfactor_history(http, sort="-id", start=1, length=2)
    assert [c["id"] for c in descending["campaigns"]] == [drawn_after, drawn]
    assert descending["totalRecords"] == 4
    by_default = smsfactor_history(http, length=1000)["campaigns"]
    assert [c["id"] for c in by_default] == [high, drawn_after, drawn, moved]
    assert sim.smsfactor_campaign_ids() == [high, drawn_after, drawn, moved, future]
    with pytest.raises(ValueError, match="taken"):
        sim.add_smsfactor_campaign(50, START, campaign_id=int(drawn))
    sim.add_smsfactor_account("sf_other_token", 0)
    with pytest.raises(ValueError, match="taken"):  # ids are global at the vendor
        sim.add_smsfactor_campaign(50, START, campaign_id=1_000_123, api_token="sf_other_token")


def test_smsfactor_waits_for_its_send_date_and_filters_on_it(
    bare: tuple[Simulator, httpx.Client], clock: SimClock
) -> None:
    sim, http = bare
    early_sent_late = sim.add_smsfactor_campaign(
        300, START - 5 * DAY, campaign_id=1_000_001, send_at=START + 2 * HOUR
    )
    sent = sim.add_smsfactor_campaign(300, START - 4 * DAY)
    waiting = smsfactor_history(http, sort="id")["campaigns"][0]
    assert waiting["id"] == early_sent_late
    assert waiting["status"] == "Waiting"
    assert waiting["date"] == "2026-05-17 16:00:00"  # Paris wall clock, CEST
    assert waiting["creation_date"] == "2026-05-12 14:00:00"
    assert all(waiting[name] == "0" for name in ("delivered", "error", "npai", "cost"))
    window = smsfactor_history(
        http, date_start="2026-05-17 00:00:00", date_end="2026-05-18 00:00:00"
    )
    assert [c["id"] for c in window["campaigns"]] == [early_sent_late]
    assert window["totalRecords"] == 2 and window["totalDisplayRecords"] == 1
    clock.set(START + 3 * HOUR)
    after = {c["id"]: c for c in smsfactor_history(http)["campaigns"]}
    assert after[early_sent_late]["status"] == "Sent"
    assert int(after[early_sent_late]["delivered"]) > 0
    assert after[sent]["status"] == "Sent"


def test_smsfactor_moderation_holds_then_sends_at_release(
    bare: tuple[Simulator, httpx.Client], clock: SimClock
) -> None:
    sim, http = bare
    held = sim.add_smsfactor_campaign(400, START - 4 * DAY, held_until=START + HOUR)
    scheduled = sim.add_smsfactor_campaign(
        400, START - 4 * DAY, send_at=START + 5 * HOUR, held_until=START + HOUR
    )

    def state(at: datetime) -> dict[str, dict]:
        clock.set(at)
        return {c["id"]: c for c in smsfactor_history(http)["campaigns"]}

    before = state(START)
    assert before[held]["status"] == before[scheduled]["status"] == "In moderation"
    assert before[held]["delivered"] == "0"
    assert before[held]["date"] == before[held]["creation_date"]  # the requested send date
    released = state(START + 2 * HOUR)
    assert int(released[held]["delivered"]) > 0  # sent at release, days after its date
    assert released[scheduled]["status"] == "Waiting"
    counters = ("delivered", "error", "expired", "network_error", "stop")
    previous = before
    for hours in range(2, 20, 2):
        current = state(START + hours * HOUR)
        for cid in (held, scheduled):
            assert all(int(current[cid][n]) >= int(previous[cid][n]) for n in counters), cid
        previous = current
    assert previous[held]["status"] == previous[scheduled]["status"] == "Sent"
    assert state(START + 2 * HOUR) == released  # the same instant answers the same


def test_smsfactor_rejects_impossible_plans(bare: tuple[Simulator, httpx.Client]) -> None:
    sim, _ = bare
    with pytest.raises(ValueError, match="precede"):
        sim.add_smsfactor_campaign(5, START, send_at=START - HOUR)
    with pytest.raises(ValueError, match="precede"):
        sim.add_smsfactor_campaign(5, START, held_until=START - HOUR)
    with pytest.raises(ValueError, match="positive"):
        sim.add_smsfactor_campaign(5, START, campaign_id=0)


# Scale: 10,000 campaigns per vendor over a year, 50 in flight.

ACTIVE = 50


@pytest.fixture(scope="module")
def big_clock() -> SimClock:
    return SimClock(START)


@pytest.fixture(scope="module")
def big(big_clock: SimClock) -> Iterator[tuple[Simulator, httpx.Client]]:
    sim = Simulator(
        seed=3,
        nixflex_campaigns=10_000,
        smsfactor_campaigns=10_000,
        clock=big_clock,
        anchor=START,
        active_campaigns=ACTIVE,
        history=timedelta(days=365),
    )
    with serve(sim) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield sim, client


def nixflex_count(http: httpx.Client, **params: object) -> int:
    response = http.get("/nixflex/v1/sms/campaigns", params={"limit": 1, **params}, headers=NIXFLEX)
    assert response.status_code == 200
    return response.json()["count"]


def test_ten_thousand_campaigns_list_newest_first_with_few_in_flight(
    big: tuple[Simulator, httpx.Client],
) -> None:
    sim, http = big
    ids = sim.nixflex_campaign_ids()
    first = http.get("/nixflex/v1/sms/campaigns?limit=100", headers=NIXFLEX).json()
    last = http.get("/nixflex/v1/sms/campaigns?limit=100&offset=9900", headers=NIXFLEX).json()
    assert first["count"] == len(ids) == 10_000
    assert [c["campaign_id"] for c in first["campaigns"]] == ids[:100]
    assert [c["campaign_id"] for c in last["campaigns"]] == ids[9900:]
    created = [c["created_at"] for c in first["campaigns"] + last["campaigns"]]
    assert created == sorted(created, reverse=True)
    oldest = datetime.fromisoformat(last["campaigns"][-1]["created_at"])
    assert START - timedelta(days=365) <= oldest < START - timedelta(days=364)
    # Only the in-flight campaigns run; the special roles stay; everything else is done.
    assert nixflex_count(http, status="running") == ACTIVE
    assert nixflex_count(http, status="scheduled") == nixflex_count(http, status="draft") == 1
    assert nixflex_count(http, status="done") == 10_000 - ACTIVE - 2
    history = http.get("/smsfactor/campaigns?length=1000", headers=SMSFACTOR_JSON).json()
    assert history["totalRecords"] == 10_000
    assert [c["id"] for c in history["campaigns"]] == sim.smsfactor_campaign_ids()[:1000]
    statuses = [c["status"] for c in history["campaigns"]]
    assert statuses.count("In progress") == ACTIVE
    assert statuses.count("Sent") + statuses.count("Waiting") == 1000 - ACTIVE


def test_settled_old_campaign_detail_follows_the_documented_rule(
    big: tuple[Simulator, httpx.Client], big_clock: SimClock
) -> None:
    sim, http = big
    oldest = sim.nixflex_campaign_ids()[-1]
    detail = nixflex_detail(http, oldest)
    assert detail["status"] == "done"
    assert detail["pending_count"] == 0
    assert 20 <= detail["total_count"] <= 400
    assert {key: detail[key] for key in counts_from_recipients(detail)} == (
        counts_from_recipients(detail)
    )
    assert {r["status"] for r in detail["recipients"]} <= {
        "delivered",
        "undelivered",
        "failed",
        "sent",
    }
    summary = http.get("/nixflex/v1/sms/campaigns?limit=1&offset=9999", headers=NIXFLEX).json()
    assert {k: summary["campaigns"][0][k] for k in counts_from_recipients(detail)} == (
        counts_from_recipients(detail)
    )
    try:  # settled: a month later nothing has moved
        big_clock.advance(timedelta(days=30))
        assert nixflex_detail(http, oldest) == detail
    finally:
        big_clock.set(START)


# Rate limits.


def wait_for_fresh_window(window: float, needed: float) -> None:
    """Sleep into the next real-time window unless ``needed`` seconds are left in this one."""
    left = window - time.time() % window
    if left < needed:
        time.sleep(left + 0.02)


def test_rate_limit_is_enforced_with_the_documented_429(clock: SimClock) -> None:
    sim = Simulator(seed=1, clock=clock, rate_limit=5, rate_window=2, smsfactor_rate_limit=2)
    campaign_id = sim.nixflex_campaign_ids()[-1]
    paths = ["/nixflex/v1/sms/campaigns", f"/nixflex/v1/sms/campaigns/{campaign_id}"] * 3
    with serve(sim) as base_url, httpx.Client(base_url=base_url) as http:
        wait_for_fresh_window(2, needed=1.2)
        answers = [http.get(path, headers=NIXFLEX) for path in paths]
        smsfactor = [get_without_accept(http, "/smsfactor/campaigns") for _ in range(3)]
        served, throttled = answers[:5], answers[5]
        assert [a.status_code for a in served] == [200] * 5
        assert [a.headers["X-RateLimit-Remaining"] for a in served] == ["4", "3", "2", "1", "0"]
        assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"5"}
        reset = {int(a.headers["X-RateLimit-Reset"]) for a in answers}
        assert len(reset) == 1 and reset.pop() % 2 == 0
        assert throttled.status_code == 429
        retry_after = int(throttled.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        assert throttled.headers["X-RateLimit-Remaining"] == "0"
        assert throttled.json() == {
            "error": {
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
                "message": throttled.json()["error"]["message"],
                "doc_url": "https://docs.nixflex.com/errors/rate_limit_exceeded",
                "details": {"retry_after": retry_after},
            }
        }
        assert [a.status_code for a in smsfactor] == [200, 200, 429]
        assert ET.fromstring(smsfactor[2].content).findtext("status") == "-99"
        assert int(smsfactor[2].headers["Retry-After"]) >= 1
        assert "X-RateLimit-Limit" not in smsfactor[0].headers
        assert sim.calls[("nixflex", "rate_limited")] == 1
        assert sim.calls[("nixflex", "list")] + sim.calls[("nixflex", "get")] == 5
        assert sim.max_requests_in_window("nixflex") == 5
        time.sleep(retry_after)  # the next window has a fresh budget
        again = http.get(paths[0], headers=NIXFLEX)
        assert again.status_code == 200
        assert again.headers["X-RateLimit-Remaining"] == "4"


def test_throttle_next_forces_exactly_n_429s(sim: Simulator, http: httpx.Client) -> None:
    sim.throttle_next(3, retry_after=7)
    answers = [http.get("/nixflex/v1/sms/campaigns", headers=NIXFLEX) for _ in range(5)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200, 200]
    assert {a.headers["Retry-After"] for a in answers[:3]} == {"7"}
    assert {a.json()["error"]["details"]["retry_after"] for a in answers[:3]} == {7}
    assert sim.calls[("nixflex", "rate_limited")] == 3
    assert sim.calls[("nixflex", "list")] == 2
    sim.throttle_next(1, vendor="smsfactor")
    answers = [http.get("/smsfactor/campaigns", headers=SMSFACTOR_JSON) for _ in range(2)]
    assert [a.status_code for a in answers] == [429, 200]
    assert answers[0].json()["status"] == -99
    assert answers[0].headers["Retry-After"] == "1"
    assert sim.calls[("smsfactor", "rate_limited")] == 1


# Several accounts.

ACME_KEY = "nxf_acme:nxfs_acme_secret"
ACME_TOKEN = "sf_acme_token"


def test_each_key_sees_only_its_own_campaigns(clock: SimClock) -> None:
    sim = Simulator(seed=42, clock=clock, rate_limit=3, rate_window=3600)
    acme_nixflex = sim.add_nixflex_account(ACME_KEY, 6)
    acme_smsfactor = sim.add_smsfactor_account(ACME_TOKEN, 6)
    acme_new = sim.add_nixflex_campaign(size=10, created_at=START, api_key=ACME_KEY)
    assert acme_nixflex == sim.nixflex_campaign_ids(ACME_KEY)[1:]
    acme = {"Authorization": f"Bearer {ACME_KEY}"}
    acme_json = {"Authorization": f"Bearer {ACME_TOKEN}", "Accept": "application/json"}
    with serve(sim) as base_url, httpx.Client(base_url=base_url) as http:
        demo_list = http.get("/nixflex/v1/sms/campaigns?limit=100", headers=NIXFLEX).json()
        acme_list = http.get("/nixflex/v1/sms/campaigns?limit=100", headers=acme).json()
        demo_ids = [c["campaign_id"] for c in demo_list["campaigns"]]
        acme_ids = [c["campaign_id"] for c in acme_list["campaigns"]]
        assert demo_ids == sim.nixflex_campaign_ids()
        assert acme_ids == [acme_new, *acme_nixflex]
        assert not set(demo_ids) & set(acme_ids)
        other = http.get(f"/nixflex/v1/sms/campaigns/{demo_ids[0]}", headers=acme)
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "campaign_not_found"
        # Rate limits are per key: the demo key has used 1 of 3, acme 2 of 3.
        assert other.headers["X-RateLimit-Remaining"] == "1"
        assert http.get(f"/nixflex/v1/sms/campaigns/{acme_ids[0]}", headers=acme).status_code == 200
        assert http.get(f"/nixflex/v1/sms/campaigns/{acme_ids[0]}", headers=acme).status_code == 429
        assert http.get("/nixflex/v1/sms/campaigns", headers=NIXFLEX).status_code == 200

        demo_history = http.get("/smsfactor/campaigns", headers=SMSFACTOR_JSON).json()
        acme_history = http.get("/smsfactor/campaigns", headers=acme_json).json()
        demo_sf = [c["id"] for c in demo_history["campaigns"]]
        acme_sf = [c["id"] for c in acme_history["campaigns"]]
        assert demo_sf == sim.smsfactor_campaign_ids()
        assert acme_sf == acme_smsfactor == sim.smsfactor_campaign_ids(ACME_TOKEN)
        assert {int(i) % 37 for i in demo_sf} != {int(i) % 37 for i in acme_sf}
        assert len({int(i) % 37 for i in acme_sf}) == 1
        assert acme_sf == sorted(acme_sf, key=int, reverse=True)
        missing = http.get(f"/smsfactor/campaign/{demo_sf[0]}", headers=acme_json).json()
        assert missing["status"] == -5
        stranger = {"Authorization": "Bearer nxf_nobody:nxfs_x"}
        assert http.get("/nixflex/v1/sms/campaigns", headers=stranger).status_code == 401
    assert sim.calls_by_key[("nixflex", "nxf_acme", "get")] == 2
    assert sim.calls_by_key[("nixflex", "nxf_acme", "rate_limited")] == 1
    assert sim.calls_by_key[("smsfactor", "sf_acm", "history")] == 1
    assert sim.calls[("nixflex", "get")] == 2
    secrets = (ACME_KEY, ACME_TOKEN, NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, "nxfs_acme_secret")
    assert not {key for _, key, _ in sim.calls_by_key} & set(secrets)


# Control API and command line.


def test_control_api_reports_calls_and_moves_the_clock(sim: Simulator, http: httpx.Client) -> None:
    later = sim.add_nixflex_campaign(size=5, created_at=START + timedelta(minutes=10))
    for _ in range(2):
        http.get("/nixflex/v1/sms/campaigns", headers=NIXFLEX)
    http.get("/smsfactor/campaigns", headers=SMSFACTOR_JSON)
    calls = http.get("/_sim/calls").json()
    assert calls["calls"] == {"nixflex/list": 2, "smsfactor/history": 1}
    assert calls["max_requests_in_window"] == {"nixflex": 2, "smsfactor": 1}
    moved = http.post("/_sim/clock", json={"advance_seconds": 900})
    assert moved.json() == {"now": "2026-05-17T12:15:00Z"}
    assert nixflex_detail(http, later)["campaign_id"] == later
    assert http.post("/_sim/clock", json={"set": "2026-11-20T12:00:00Z"}).json() == {
        "now": "2026-11-20T12:00:00Z"
    }
    assert sim.clock.now() == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert http.post("/_sim/clock", json={"set": "2026-11-20T12:00:00"}).status_code == 400
    assert http.post("/_sim/clock", json={"forward": 1}).status_code == 400
    assert sum(sim.calls.values()) == 4  # control calls are not counted


def test_command_line_prints_its_url_and_serves() -> None:
    command = [
        sys.executable, "-m", "pipelines.simulator", "--port", "0", "--seed", "9",
        "--nixflex-campaigns", "30", "--smsfactor-campaigns", "5", "--active", "3",
        "--history-days", "30", "--nixflex-sizes", "5", "10", "--rate-limit", "0",
        "--anchor", "2026-11-20T12:00:00Z", "--frozen",
    ]  # fmt: skip
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(20, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        base_url = line.removeprefix("listening on ")
        with httpx.Client(base_url=base_url, timeout=10) as http:
            page = http.get("/nixflex/v1/sms/campaigns?limit=100", headers=NIXFLEX)
            assert page.status_code == 200
            assert "X-RateLimit-Limit" not in page.headers
            campaigns = page.json()["campaigns"]
            assert page.json()["count"] == len(campaigns) == 30
            assert sum(c["status"] == "running" for c in campaigns) == 3
            assert all(5 <= c["total_count"] <= 10 for c in campaigns if c["status"] != "draft")
            assert http.get("/_sim/clock").json() == {"now": "2026-11-20T12:00:00Z"}
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=10)
