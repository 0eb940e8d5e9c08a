"""The vendor simulator over real HTTP: determinism, progress in time, errors, paging, formats."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

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
    assert remaining == [599, 598, 597]
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
