"""The load path's edges against a real Postgres: a recipient new, unchanged, changed or gone
from a later answer; an answer identical to the last one; a campaign seen for the first time
(loaded by COPY straight into the facts) against the merge path; a batch failing midway."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from pipelines.warehouse import lanes, loader
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.loader import LoadOptions, LoadStats, load_answers
from tests.sync_helpers import rows, scalar
from tests.test_loader import T, nixflex_detail, recipient

FACTS = (
    "select campaign_id, phone, status, delivery_bucket, twilio_sid, error_message, "
    "rendered_message, variables, sent_at, first_seen_at, status_changed_at "
    "from sms.fact_recipient_delivery order by campaign_id, phone"
)
CHANGES = (
    "select campaign_id, phone, from_status, to_status, observed_at "
    "from sms.fact_recipient_status_change order by campaign_id, phone, observed_at"
)


def _empty(engine: Engine) -> None:
    """The warehouse as a new user has it, between two loads of the same answers."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "truncate raw.vendor_response, raw.quarantine, sms.dim_campaign, "
                "sms.recipient_delivery, sms.recipient_status_transition, "
                "sms.campaign_poll_state restart identity cascade"
            )
        )


def test_new_unchanged_changed_and_disappeared_recipients(engine: Engine) -> None:
    first = [recipient("+441", "queued"), recipient("+442", "sent"), recipient("+443", "queued")]
    later = [
        recipient("+441", "delivered"),
        recipient("+442", "sent"),
        recipient("+444", "pending"),
    ]
    land_now(engine, nixflex_detail("smsc_a", first, T))
    load_pending(engine)
    land_now(engine, nixflex_detail("smsc_a", later, T + timedelta(hours=1)))
    load_pending(engine)

    facts = {r["phone"]: r for r in rows(engine, FACTS)}
    assert facts["+441"]["status"] == "delivered"  # changed
    assert facts["+441"]["status_changed_at"] == T + timedelta(hours=1)
    assert facts["+442"]["status_changed_at"] == T  # unchanged: untouched
    # Gone from the later answer: no longer counted, kept as last seen (missing since that
    # answer), and no change is invented for it.
    assert "+443" not in facts
    assert rows(
        engine, "select status, missing_since from sms.recipient_delivery where phone = '+443'"
    ) == [{"status": "queued", "missing_since": T + timedelta(hours=1)}]
    assert facts["+444"]["first_seen_at"] == T + timedelta(hours=1)  # new
    later_changes = [
        (r["phone"], r["from_status"], r["to_status"])
        for r in rows(engine, CHANGES)
        if r["observed_at"] > T
    ]
    assert later_changes == [("+441", "queued", "delivered"), ("+444", None, "pending")]


def test_an_identical_answer_is_recorded_as_a_poll_but_not_reflattened(engine: Engine) -> None:
    people = [recipient("+441", "delivered"), recipient("+442", "failed")]
    land_now(engine, nixflex_detail("smsc_a", people, T))
    load_pending(engine)
    facts_before, changes_before = rows(engine, FACTS), rows(engine, CHANGES)

    land_now(engine, nixflex_detail("smsc_a", people, T + timedelta(minutes=15)))
    stats = load_pending(engine)

    assert stats.responses_unchanged == 1 and stats.recipients_seen == 0
    assert scalar(engine, "select last_polled_at from sms.dim_campaign") == T + timedelta(
        minutes=15
    )
    assert rows(engine, FACTS) == facts_before and rows(engine, CHANGES) == changes_before
    notes = rows(engine, "select load_status, load_note from raw.vendor_response order by 1, 2")
    assert [n["load_status"] for n in notes] == ["loaded", "loaded"]
    assert any("unchanged" in (n["load_note"] or "") for n in notes)


def _load_twice(engine: Engine, merge_only: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    if merge_only:
        monkeypatch.setattr(loader, "_first_sight", lambda conn, campaign_id: False)
    people = [recipient(f"+44{n:03d}", s) for n, s in enumerate(["pending", "sent", "failed"] * 40)]
    odd = {**recipient("+449", "sending"), "error_message": "tab\there", "variables": None}
    land_now(engine, nixflex_detail("smsc_a", [*people, odd], T))
    moved = [{**p, "status": "delivered"} if p["status"] == "sent" else p for p in people]
    land_now(engine, nixflex_detail("smsc_a", moved, T + timedelta(hours=2)))
    load_pending(engine)
    return (
        rows(engine, FACTS),
        rows(engine, CHANGES),
        rows(engine, "select * from sms.dim_campaign"),
    )


def test_first_sight_by_copy_gives_what_the_merge_path_gives(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _load_twice(engine, merge_only=False, monkeypatch=monkeypatch)
    _empty(engine)
    merged = _load_twice(engine, merge_only=True, monkeypatch=monkeypatch)
    assert fast == merged
    # The later answer no longer lists the odd recipient: 120 counted, 121 first sightings.
    assert len(fast[0]) == 120 and len(fast[1]) == 121 + 40


def test_a_batch_failing_midway_leaves_the_facts_as_they_were(engine: Engine) -> None:
    land_now(engine, nixflex_detail("smsc_a", [recipient("+441", "queued")], T))
    load_pending(engine)
    facts, changes = rows(engine, FACTS), rows(engine, CHANGES)
    dim = rows(engine, "select * from sms.dim_campaign")

    # The later answer moves +441 and adds 300 recipients, one of which Postgres refuses
    # (a NUL character in text) near the end of the COPY.
    later = [recipient("+441", "delivered")] + [
        recipient(f"+45{n:04d}", "sent") for n in range(300)
    ]
    later[290]["rendered_message"] = "bad \x00 byte"
    land_now(engine, nixflex_detail("smsc_a", later, T + timedelta(hours=1)))
    # ... and a new campaign (first-sight COPY path) fails the same way.
    fresh = [recipient(f"+46{n:04d}", "sent") for n in range(300)]
    fresh[150]["rendered_message"] = "bad \x00 byte"
    land_now(engine, nixflex_detail("smsc_b", fresh, T + timedelta(hours=1)))
    stats = load_pending(engine)

    assert stats.responses_quarantined == 2
    assert rows(engine, FACTS) == facts and rows(engine, CHANGES) == changes
    assert rows(engine, "select * from sms.dim_campaign") == dim
    kinds = rows(engine, "select campaign_id, kind from raw.quarantine order by campaign_id")
    assert [(k["campaign_id"], k["kind"]) for k in kinds] == [
        ("smsc_a", "rejected_by_warehouse"),
        ("smsc_b", "rejected_by_warehouse"),
    ]


def test_identical_bytes_are_landed_by_reference_and_still_load_when_state_moved_back(
    engine: Engine,
) -> None:
    a = [recipient("+441", "sent")]
    b = [recipient("+441", "delivered")]
    for hours, people in ((0, a), (1, a), (2, b), (3, a)):
        land_now(engine, nixflex_detail("smsc_a", people, T + timedelta(hours=hours)))
    landed = rows(
        engine,
        "select response_id, duplicate_of, payload is null and body is null as by_reference "
        "from raw.vendor_response order by response_id",
    )
    first = landed[0]["response_id"]
    # The second and the fourth answers have the first one's bytes: kept by reference.
    assert [(r["duplicate_of"], r["by_reference"]) for r in landed] == [
        (None, False),
        (first, True),
        (None, False),
        (first, True),
    ]
    stats = load_pending(engine)
    # The fourth equals the first but not the third (the last loaded): it is read again,
    # from the first answer's bytes, and the vendor's (odd) step back is recorded.
    assert stats.responses_unchanged == 1
    # The newest observation wins, whatever it says, and each step is one change row.
    assert scalar(engine, "select status from sms.fact_recipient_delivery") == "sent"
    assert [(r["from_status"], r["to_status"]) for r in rows(engine, CHANGES)] == [
        (None, "sent"),
        ("sent", "delivered"),
        ("delivered", "sent"),
    ]


def _tricky_people(moved: bool) -> list[dict]:
    people = [
        {**recipient("+441", "delivered" if moved else "sent"), "variables": {"first_name": "Zoé"}},
        {**recipient("+442", "sending"), "twilio_sid": "", "error_message": None},
        {
            **recipient("+443", "failed"),
            "rendered_message": 'Tab\\there "quoted" back\\\\slash\nnew line',
            "error_message": "Unknown handset",
            "variables": {"a": {"b": [1, 2]}, "n": None},
            "sent_at": "2026-11-20T13:01:02.123456+02:00",
        },
        {**recipient("+444", "queued"), "variables": None, "sent_at": ""},
        {**recipient("+445", "pending"), "sent_at": None},
    ]
    return people


def _load_tricky(engine: Engine) -> tuple:
    land_now(engine, nixflex_detail("smsc_t", _tricky_people(False), T))
    load_pending(engine)
    land_now(engine, nixflex_detail("smsc_t", _tricky_people(True), T + timedelta(hours=1)))
    load_pending(engine)
    state = (
        "select is_final, last_sent_at, settles_at, last_changed_at from sms.campaign_poll_state"
    )
    dim = "select sent_at, status, reported_total from sms.dim_campaign"
    return rows(engine, FACTS), rows(engine, CHANGES), rows(engine, dim), rows(engine, state)


def test_the_fast_reader_loads_what_the_careful_parser_loads(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[bool] = []
    original = loader._load_plain_nixflex

    def spy(*args: object) -> bool:
        used.append(original(*args))  # type: ignore[arg-type]
        return used[-1]

    monkeypatch.setattr(loader, "_load_plain_nixflex", spy)
    fast = _load_tricky(engine)
    assert used == [True, True]  # both answers were read by the fast reader

    _empty(engine)
    monkeypatch.setattr(loader, "_load_plain_nixflex", lambda *args: False)
    careful = _load_tricky(engine)
    assert fast == careful
    facts = {r["phone"]: r for r in careful[0]}
    assert facts["+443"]["rendered_message"] == 'Tab\\there "quoted" back\\\\slash\nnew line'
    assert facts["+442"]["delivery_bucket"] == "unknown" and facts["+442"]["twilio_sid"] is None


def test_an_answer_the_fast_reader_declines_goes_to_the_parser_and_loses_one_item(
    engine: Engine,
) -> None:
    people = [recipient(f"+44{n}", "delivered") for n in range(5)]
    people[2]["sent_at"] = "2026-02-30T10:00:00Z"  # well formed, but no such day
    land_now(engine, nixflex_detail("smsc_a", people, T))
    stats = load_pending(engine)
    assert stats.responses_loaded == 1 and stats.items_quarantined == 1
    assert scalar(engine, "select count(*) from sms.fact_recipient_delivery") == 4
    assert scalar(engine, "select kind from raw.quarantine") == "invalid_item"


def _load_campaigns(engine: Engine, load: Callable[[], LoadStats]) -> tuple:
    """Six campaigns of two answers each (the later one moves statuses), loaded by ``load``."""
    for n in range(6):
        people = [recipient(f"+44{n}{k:02d}", "sent") for k in range(20)]
        land_now(engine, nixflex_detail(f"smsc_{n}", people, T))
        moved = [{**p, "status": "delivered"} for p in people[::2]] + people[1::2]
        land_now(engine, nixflex_detail(f"smsc_{n}", moved, T + timedelta(hours=1)))
    stats = load()
    assert stats.responses_loaded == 12
    dim = "select * from sms.dim_campaign order by campaign_id"
    return rows(engine, FACTS), rows(engine, CHANGES), rows(engine, dim)


def test_helper_processes_load_what_one_loader_loads(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = _load_campaigns(engine, lambda: load_pending(engine, processes=1))
    _empty(engine)
    # Any load counts as large here, and this process loads slowly, so that the helper (a
    # process of its own, unaffected by this patch) surely takes some of the lanes.
    monkeypatch.setattr(lanes, "PARALLEL_FROM_BYTES", 0)
    here: list[list[int]] = []

    def slow(engine: Engine, lane: list[int], options: LoadOptions) -> LoadStats:
        here.append(lane)
        time.sleep(0.5)
        return load_answers(engine, lane, options)

    monkeypatch.setattr(lanes, "load_answers", slow)
    said: list[str] = []
    together = _load_campaigns(
        engine, lambda: load_pending(engine, progress=said.append, processes=2)
    )
    assert 0 < len(here) < 6  # both this process and the helper loaded campaigns
    assert "6 lanes, 2 processes" in said[0], said
    assert together == alone
    # Each campaign's two answers were loaded in order: the later status won.
    assert {r["status"] for r in together[0] if r["phone"].endswith(("00", "02"))} == {"delivered"}
