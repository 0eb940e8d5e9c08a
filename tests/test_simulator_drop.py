"""Delivery drops in the vendor simulator: a sender's campaigns that start sending within a
window deliver fewer of their messages, every other campaign serves the very same bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from pipelines.simulator import (
    NIXFLEX_DEMO_KEY,
    SMSFACTOR_DEMO_TOKEN,
    DeliveryDrop,
    SimClock,
    Simulator,
    serve,
)
from pipelines.simulator.__main__ import main as simulator_main

START = datetime(2026, 5, 17, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
NIXFLEX = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
SMSFACTOR_JSON = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/json"}
SMSFACTOR_XML = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}"}
FILTERED = "30007: Message filtered"
POINTS = 30
SETTLED = timedelta(days=4)  # past every campaign's last receipt (48 h at most after sending)
SF_COUNTERS = ("delivered", "error", "expired", "network_error", "npai")


def simulators(**kwargs: object) -> tuple[Simulator, Simulator]:
    """A simulator without drops and one with ``kwargs`` (same seed, anchor and clock time)."""
    common: dict = {"seed": 42, "anchor": START, "rate_limit": None}
    for name in ("nixflex_campaigns", "smsfactor_campaigns", "nixflex_sizes", "smsfactor_sizes"):
        if name in kwargs:
            common[name] = kwargs.pop(name)
    plain = Simulator(clock=SimClock(START), **common)
    return plain, Simulator(clock=SimClock(START), **common, **kwargs)  # type: ignore[arg-type]


def at(instant: datetime, *sims: Simulator) -> None:
    for sim in sims:
        sim.clock.set(instant)


def nixflex_body(sim: Simulator, campaign_id: str) -> bytes:
    response = sim.handle("GET", f"/nixflex/v1/sms/campaigns/{campaign_id}", {}, NIXFLEX)
    assert response.status == 200
    return response.body


def nixflex_list(sim: Simulator) -> dict[str, dict]:
    query = {"limit": "100"}
    body = json.loads(sim.handle("GET", "/nixflex/v1/sms/campaigns", query, NIXFLEX).body)
    return {campaign["campaign_id"]: campaign for campaign in body["campaigns"]}


def smsfactor_body(sim: Simulator, campaign_id: str, headers: dict[str, str]) -> bytes:
    return sim.handle("GET", f"/smsfactor/campaign/{campaign_id}", {}, headers).body


def smsfactor_campaign(sim: Simulator, campaign_id: str) -> dict:
    return json.loads(smsfactor_body(sim, campaign_id, SMSFACTOR_JSON))["campaign"][0]


def counts_from_recipients(campaign: dict) -> dict[str, int]:
    """The documented counting rule, applied to the recipients the vendor returned."""
    statuses = [recipient["status"] for recipient in campaign["recipients"]]
    return {
        "total_count": len(statuses),
        "delivered_count": statuses.count("delivered"),
        "failed_count": sum(s in ("failed", "undelivered", "sent") for s in statuses),
        "pending_count": sum(s in ("pending", "queued") for s in statuses),
    }


def delivered_share(campaigns: list[dict]) -> float:
    """Delivered recipients over all recipients, recounted from the served recipients."""
    recipients = [r for campaign in campaigns for r in campaign["recipients"]]
    return sum(r["status"] == "delivered" for r in recipients) / len(recipients)


def boundary_between_campaigns(created: list[datetime], near: datetime) -> datetime:
    """An instant halfway between the two campaigns created either side of ``near``, so that
    no campaign starts sending close to it (sending starts at most 30 s after creation)."""
    before = max(c for c in created if c < near)
    after = min(c for c in created if c >= near)
    assert after - before > timedelta(minutes=2)
    return before + (after - before) / 2


def assert_only_filtered_moved(plain: dict, dropped: dict) -> int:
    """Recipient by recipient: the same people, SIDs and timing; the only changes are
    delivered ones that failed with the carrier filtering error. Returns how many moved."""
    moved = 0
    for before, after in zip(plain["recipients"], dropped["recipients"], strict=True):
        if before == after:
            continue
        assert before["status"] == "delivered", before
        assert after == {**before, "status": "failed", "error_message": FILTERED}, after
        moved += 1
    return moved


# Nixflex.


def test_nixflex_drop_lowers_the_senders_delivered_share_after_its_start() -> None:
    sizes = {"nixflex_campaigns": 90, "nixflex_sizes": (300, 600), "smsfactor_campaigns": 3}
    probe = Simulator(seed=42, clock=SimClock(START), anchor=START, **sizes)  # type: ignore[arg-type]
    created = [datetime.fromisoformat(c["created_at"]) for c in nixflex_list(probe).values()]
    start = boundary_between_campaigns(created, START - timedelta(days=3))
    sender = probe.nixflex_senders()[0]
    plain, dropped = simulators(drops=[DeliveryDrop(sender, POINTS, start)], **sizes)
    ids = plain.nixflex_campaign_ids()
    assert dropped.nixflex_campaign_ids() == ids

    listing = nixflex_list(plain)
    hit = {
        cid
        for cid, c in listing.items()
        if c["from_number"] == sender
        and c["status"] != "draft"
        and datetime.fromisoformat(c["created_at"]) >= start
    }
    before_start = [
        cid
        for cid, c in listing.items()
        if c["from_number"] == sender and datetime.fromisoformat(c["created_at"]) < start
    ]
    assert len(hit) >= 10 and before_start, "enough campaigns on either side of the start"

    # Mid-flight at the anchor and once settled: untouched campaigns serve the same bytes,
    # touched ones still report the counts their recipients add up to.
    for instant in (START, START + SETTLED):
        at(instant, plain, dropped)
        for cid in ids:
            if cid not in hit:
                assert nixflex_body(dropped, cid) == nixflex_body(plain, cid), cid
                continue
            campaign = json.loads(nixflex_body(dropped, cid))
            truth = counts_from_recipients(campaign)
            assert {key: campaign[key] for key in truth} == truth, cid
        dropped_list, plain_list = nixflex_list(dropped), nixflex_list(plain)
        assert {c: dropped_list[c] for c in ids if c not in hit} == {
            c: plain_list[c] for c in ids if c not in hit
        }

    # Settled: about POINTS points fewer delivered, the difference all carrier filtering.
    without = [json.loads(nixflex_body(plain, cid)) for cid in sorted(hit)]
    with_drop = [json.loads(nixflex_body(dropped, cid)) for cid in sorted(hit)]
    assert all(c["status"] == "done" for c in with_drop)
    moved = sum(assert_only_filtered_moved(a, b) for a, b in zip(without, with_drop, strict=True))
    share_without, share_with = delivered_share(without), delivered_share(with_drop)
    recipients = sum(len(c["recipients"]) for c in with_drop)
    print(
        f"nixflex {len(hit)} campaigns, {recipients} recipients of {sender}: delivered "
        f"{share_without:.2%} without the drop, {share_with:.2%} with it; {moved} filtered"
    )
    assert recipients >= 5000
    assert share_with == pytest.approx(share_without - POINTS / 100, abs=0.02)
    assert 0.85 <= share_without <= 0.95
    assert share_with == pytest.approx(0.60, abs=0.05)
    listed = nixflex_list(dropped)
    for campaign in with_drop:
        truth = counts_from_recipients(campaign)
        assert {key: listed[campaign["campaign_id"]][key] for key in truth} == truth


def test_nixflex_drop_delivery_reaches_campaigns_added_afterwards() -> None:
    plain, dropped = simulators()
    sender, other = plain.nixflex_senders()[:2]
    assert dropped.nixflex_senders() == plain.nixflex_senders()
    laid_out = plain.nixflex_campaign_ids()
    drop = dropped.drop_delivery(sender, POINTS)  # from the clock's now: START
    assert drop == DeliveryDrop(sender, POINTS, START)
    assert dropped.delivery_drops() == [drop]

    both: list[dict[str, list[str]]] = []
    early = START - timedelta(hours=1)
    for sim in (plain, dropped):  # the same additions to both
        ids: dict[str, list[str]] = {"hit": [], "other": [], "early": []}
        # Created and sent before the drop's start: untouched.
        ids["early"].append(sim.add_nixflex_campaign(800, early, from_number=sender))
        for k in range(8):
            created = START + timedelta(minutes=k)
            ids["hit"].append(sim.add_nixflex_campaign(1000, created, from_number=sender))
            ids["other"].append(sim.add_nixflex_campaign(300, created, from_number=other))
        # Created before the start but scheduled to send after it: dropped.
        later = START + timedelta(hours=2)
        ids["hit"].append(
            sim.add_nixflex_campaign(
                700, early, kind="scheduled", send_at=later, from_number=sender
            )
        )
        both.append(ids)
    assert both[0] == both[1]
    added = both[0]

    at(START + SETTLED, plain, dropped)
    for cid in laid_out + added["other"] + added["early"]:
        assert nixflex_body(dropped, cid) == nixflex_body(plain, cid), cid
    without = [json.loads(nixflex_body(plain, cid)) for cid in added["hit"]]
    with_drop = [json.loads(nixflex_body(dropped, cid)) for cid in added["hit"]]
    assert {c["from_number"] for c in with_drop} == {sender}
    assert json.loads(nixflex_body(dropped, added["other"][0]))["from_number"] == other
    for a, b in zip(without, with_drop, strict=True):
        assert assert_only_filtered_moved(a, b) > 0
        truth = counts_from_recipients(b)
        assert {key: b[key] for key in truth} == truth
    share_without, share_with = delivered_share(without), delivered_share(with_drop)
    print(f"nixflex added: delivered {share_without:.2%} without, {share_with:.2%} with the drop")
    assert share_with == pytest.approx(share_without - POINTS / 100, abs=0.02)


def test_a_full_drop_leaves_nothing_delivered_and_drops_add_up() -> None:
    plain, dropped = simulators()
    sender = plain.nixflex_senders()[0]
    dropped.drop_delivery(sender, 100)
    half = [dropped.drop_delivery(plain.nixflex_senders()[1], 50) for _ in range(2)]
    assert len(dropped.delivery_drops()) == 3 and half[0] == half[1]
    full = dropped.add_nixflex_campaign(500, START, from_number=sender)
    twice = dropped.add_nixflex_campaign(500, START, from_number=plain.nixflex_senders()[1])
    at(START + SETTLED, dropped)
    for cid in (full, twice):
        campaign = json.loads(nixflex_body(dropped, cid))
        assert campaign["delivered_count"] == 0
        assert campaign["failed_count"] == campaign["total_count"] == 500
        assert counts_from_recipients(campaign)["delivered_count"] == 0


# SMSFactor.


def smsfactor_send_instant(campaign: dict) -> datetime:
    """The send date an SMSFactor campaign shows (Paris wall clock) as an instant."""
    return datetime.fromisoformat(campaign["date"]).replace(tzinfo=PARIS)


def test_smsfactor_drop_moves_delivered_to_error_for_the_sender_after_its_start() -> None:
    sizes = {"smsfactor_campaigns": 120, "smsfactor_sizes": (1000, 3000), "nixflex_campaigns": 3}
    probe = Simulator(seed=42, clock=SimClock(START), anchor=START, **sizes)  # type: ignore[arg-type]
    ids = probe.smsfactor_campaign_ids()
    shown = {cid: smsfactor_campaign(probe, cid) for cid in ids}
    start = boundary_between_campaigns(
        [smsfactor_send_instant(c) for c in shown.values()], START - timedelta(days=3)
    )
    sender = "BESTSHOES"
    plain, dropped = simulators(drops=[DeliveryDrop(sender, POINTS, start)], **sizes)
    hit = {
        cid
        for cid, c in shown.items()
        if c["sender"] == sender
        and c["status"] not in ("Denied", "In moderation")
        and smsfactor_send_instant(c) >= start
    }
    before_start = [
        c for c in shown.values() if c["sender"] == sender and smsfactor_send_instant(c) < start
    ]
    assert len(hit) >= 10 and before_start

    for instant in (START, START + timedelta(hours=1), START + SETTLED):
        at(instant, plain, dropped)
        for cid in ids:
            if cid not in hit:
                for headers in (SMSFACTOR_JSON, SMSFACTOR_XML):
                    assert smsfactor_body(dropped, cid, headers) == smsfactor_body(
                        plain, cid, headers
                    ), cid
                continue
            campaign = smsfactor_campaign(dropped, cid)
            assert sum(int(campaign[name]) for name in SF_COUNTERS) <= int(campaign["total"])

    without = [smsfactor_campaign(plain, cid) for cid in sorted(hit)]
    with_drop = [smsfactor_campaign(dropped, cid) for cid in sorted(hit)]
    for a, b in zip(without, with_drop, strict=True):
        assert b["status"] == "Sent"
        fewer = int(a["delivered"]) - int(b["delivered"])
        assert fewer > 0
        assert int(b["error"]) - int(a["error"]) == fewer
        for name in ("expired", "network_error", "npai", "total", "cost"):
            assert a[name] == b[name]
        assert sum(int(b[name]) for name in SF_COUNTERS) == int(b["total"])
        assert int(b["stop"]) <= int(b["delivered"])
    total = sum(int(c["total"]) for c in with_drop)
    share_without = sum(int(c["delivered"]) for c in without) / total
    share_with = sum(int(c["delivered"]) for c in with_drop) / total
    print(
        f"smsfactor {len(hit)} campaigns, {total} messages of {sender}: delivered "
        f"{share_without:.2%} without the drop, {share_with:.2%} with it"
    )
    assert share_with == pytest.approx(share_without - POINTS / 100, abs=0.02)

    history = dropped.handle("GET", "/smsfactor/campaigns", {"length": "1000"}, SMSFACTOR_JSON)
    plain_history = plain.handle("GET", "/smsfactor/campaigns", {"length": "1000"}, SMSFACTOR_JSON)
    served = {c["id"]: c for c in json.loads(history.body)["campaigns"]}
    plain_served = {c["id"]: c for c in json.loads(plain_history.body)["campaigns"]}
    assert {c: served[c] for c in ids if c not in hit} == {
        c: plain_served[c] for c in ids if c not in hit
    }
    assert [served[c["id"]] for c in with_drop] == with_drop


def test_smsfactor_drop_delivery_and_an_explicit_sender() -> None:
    plain, dropped = simulators()
    laid_out = plain.smsfactor_campaign_ids()
    dropped.drop_delivery("NEWSHOP", POINTS, START, START + timedelta(days=1))
    added: list[list[str]] = []
    for sim in (plain, dropped):
        ids = [
            sim.add_smsfactor_campaign(2000, START + timedelta(minutes=k), sender="NEWSHOP")
            for k in range(10)
        ]
        ids.append(sim.add_smsfactor_campaign(2000, START, sender="CLEANPRO"))
        ids.append(  # sends after the drop's end
            sim.add_smsfactor_campaign(
                2000, START, sender="NEWSHOP", send_at=START + timedelta(days=1)
            )
        )
        ids.append(  # held in moderation until after the drop's end: sends at release
            sim.add_smsfactor_campaign(
                2000, START, sender="NEWSHOP", held_until=START + timedelta(days=2)
            )
        )
        added.append(ids)
    assert added[0] == added[1]
    at(START + SETTLED, plain, dropped)
    for cid in laid_out + added[0][10:]:
        assert smsfactor_body(dropped, cid, SMSFACTOR_JSON) == smsfactor_body(
            plain, cid, SMSFACTOR_JSON
        ), cid
    without = [smsfactor_campaign(plain, cid) for cid in added[0][:10]]
    with_drop = [smsfactor_campaign(dropped, cid) for cid in added[0][:10]]
    assert {c["sender"] for c in with_drop} == {"NEWSHOP"}
    total = sum(int(c["total"]) for c in with_drop)
    share_without = sum(int(c["delivered"]) for c in without) / total
    share_with = sum(int(c["delivered"]) for c in with_drop) / total
    print(f"smsfactor added: delivered {share_without:.2%} without, {share_with:.2%} with")
    assert share_with == pytest.approx(share_without - POINTS / 100, abs=0.02)
    for campaign in with_drop:
        assert sum(int(campaign[name]) for name in SF_COUNTERS) == int(campaign["total"])


# Errors, the control API and the command line.


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("", 30, START), "non-empty sender"),
        (("BESTSHOES", 0, START), r"points must be in \(0, 100\], not 0"),
        (("BESTSHOES", -5, START), r"points must be in \(0, 100\]"),
        (("BESTSHOES", 100.5, START), r"points must be in \(0, 100\]"),
        (("BESTSHOES", float("nan"), START), r"points must be in \(0, 100\]"),
        (("BESTSHOES", "30", START), "points must be a number"),
        (("BESTSHOES", True, START), "points must be a number"),
        (("BESTSHOES", 30, START.replace(tzinfo=None)), "start must be a tz-aware datetime"),
        (("BESTSHOES", 30, START, START.replace(tzinfo=None)), "end must be a tz-aware"),
        (("BESTSHOES", 30, START, START), "end must be after its start"),
        (("BESTSHOES", 30, START, START - timedelta(hours=1)), "end must be after its start"),
    ],
)
def test_invalid_drops_are_refused_clearly(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeliveryDrop(*arguments)
    sim = Simulator(seed=1, clock=SimClock(START), nixflex_campaigns=1, smsfactor_campaigns=1)
    with pytest.raises(ValueError, match=message):
        sim.drop_delivery(*arguments)
    assert sim.delivery_drops() == []


def test_unknown_senders_are_refused_with_the_known_ones() -> None:
    sim = Simulator(seed=1, clock=SimClock(START), nixflex_campaigns=1, smsfactor_campaigns=1)
    senders = sim.nixflex_senders()
    assert len(senders) == 3 and all(s.startswith("+44") for s in senders)
    with pytest.raises(ValueError, match="sends from '\\+440000000000'") as error:
        sim.add_nixflex_campaign(10, START, from_number="+440000000000")
    assert all(sender in str(error.value) for sender in senders)
    assert len(sim.nixflex_campaign_ids()) == 1
    with pytest.raises(ValueError, match="non-empty"):
        sim.add_smsfactor_campaign(10, START, sender="")
    with pytest.raises(TypeError, match="DeliveryDrop"):
        Simulator(seed=1, clock=SimClock(START), drops=[("BESTSHOES", 30)])  # type: ignore[list-item]


def test_control_api_adds_and_lists_drops() -> None:
    sim = Simulator(seed=1, clock=SimClock(START), nixflex_campaigns=1, smsfactor_campaigns=1)
    sender = sim.nixflex_senders()[0]
    with serve(sim) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        assert http.get("/_sim/drops").json() == {"drops": []}
        answer = http.post("/_sim/drops", json={"sender": sender, "points": 25})
        assert answer.status_code == 200
        expected = {"sender": sender, "points": 25, "start": "2026-05-17T12:00:00Z", "end": None}
        assert answer.json() == {"drops": [expected]}
        for bad in ({"sender": sender, "points": 0}, {"sender": sender}, [1], {"sender": ""}):
            refused = http.post("/_sim/drops", json=bad)
            assert refused.status_code == 400 and refused.json()["error"], bad
        assert http.post("/_sim/drops", content=b"{oops").status_code == 400
        assert http.get("/_sim/drops").json() == {"drops": [expected]}
    assert sim.delivery_drops() == [DeliveryDrop(sender, 25, START)]


def test_command_line_rejects_bad_drops(capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--nixflex-campaigns", "1", "--smsfactor-campaigns", "1"]
    for drop, message in (
        ("BESTSHOES", "expected SENDER=POINTS"),
        ("BESTSHOES=many", "expected SENDER=POINTS"),
        ("BESTSHOES=0", "POINTS must be in (0, 100]"),
        ("NOBODY=30", "no campaign is sent by NOBODY; senders: +44"),
    ):
        with pytest.raises(SystemExit) as exit_:
            simulator_main([*common, "--drop", drop])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        simulator_main(["--help"])
    assert "--drop SENDER=POINTS" in capsys.readouterr().out


def test_command_line_serves_with_a_drop() -> None:
    command = [
        sys.executable, "-m", "pipelines.simulator", "--port", "0", "--frozen",
        "--anchor", "2026-11-20T12:00:00Z", "--drop", "BESTSHOES=30", "--drop", "PIZZA4U=12.5",
    ]  # fmt: skip
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(20, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip().removeprefix("listening on ")
        with httpx.Client(base_url=base_url, timeout=10) as http:
            assert http.get("/_sim/drops").json() == {
                "drops": [
                    {
                        "sender": "BESTSHOES",
                        "points": 30.0,
                        "start": "2026-11-20T12:00:00Z",
                        "end": None,
                    },
                    {
                        "sender": "PIZZA4U",
                        "points": 12.5,
                        "start": "2026-11-20T12:00:00Z",
                        "end": None,
                    },
                ]
            }
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=10)
