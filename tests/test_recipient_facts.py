"""Nixflex recipient facts stay right whatever order answers arrive in.

Answers are landed with ``landing.land_now`` exactly as the fetch step lands them and loaded
as a sync loads them; one test drives the simulator over real HTTP through the real job.
Expected values are written out from the answers the test builds, never read back from the
loader. The rules held to (docs/data-model.md, "Recipients"):

* the campaign's latest answer (by fetch time) says who its recipients are and what each
  one's state is; a recipient it does not list is kept but not counted;
* an answer older than a recipient's last observation changes nothing about it, and records
  no change of status (changes are recorded in the order they were observed).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from pipelines.simulator import Fault
from pipelines.vendors.raw import RawResponse
from pipelines.warehouse.checks import run_check
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.loader import LoadOptions, load_answers
from tests.conftest import SimulatorHandle
from tests.sync_helpers import BUCKET, checks_by_name, rows, run_full_sync, scalar
from tests.test_loader import nixflex_detail

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SENT = "2026-11-20T11:01:00Z"
SENT_AT = datetime(2026, 11, 20, 11, 1, tzinfo=UTC)


def answer(
    campaign_id: str, recipients: list[dict], at: datetime, status: str = "running"
) -> RawResponse:
    return nixflex_detail(campaign_id, recipients, at, status=status)


def person(
    phone: str,
    status: str,
    sid: str | None = "SM1",
    error: str | None = None,
    sent_at: str | None = SENT,
) -> dict[str, Any]:
    return {
        "phone": phone,
        "variables": {"first_name": "Sam"},
        "status": status,
        "twilio_sid": sid,
        "rendered_message": "Hi Sam",
        "error_message": error,
        "sent_at": sent_at,
    }


def minutes(n: float) -> datetime:
    return T + timedelta(minutes=n)


def land_and_load(engine: Engine, *answers: RawResponse) -> None:
    """Land and load each answer in turn, as successive syncs would."""
    for raw in answers:
        land_now(engine, raw)
        load_pending(engine)


def counted(engine: Engine, campaign_id: str) -> dict[str, int]:
    found = rows(
        engine,
        "select total, delivered, failed, pending, unknown from sms.campaign_delivery "
        "where campaign_id = :c",
        c=campaign_id,
    )
    return found[0]


# --- item 6 ---------------------------------------------------------------------------


def test_a_repeated_phone_stays_reported_while_the_next_polls_are_unchanged(
    engine: Engine,
) -> None:
    repeated = [person("+441", "delivered"), person("+441", "failed"), person("+442", "sent")]
    land_and_load(engine, answer("smsc_dup", repeated, T))
    assert run_check(engine, "nixflex_recipient_is_unique").campaigns == ["nixflex:smsc_dup"]
    # The same bytes polled twice more: recorded as unchanged, not read, nothing quarantined.
    for later in (minutes(15), minutes(30)):
        raw = answer("smsc_dup", repeated, later)
        land_now(engine, raw)
        assert load_pending(engine).responses_unchanged == 1
    outcome = run_check(engine, "nixflex_recipient_is_unique")
    assert outcome.campaigns == ["nixflex:smsc_dup"]
    assert outcome.rows[0]["repeated_recipients"] == 1
    # The vendor fixes its list: the latest answer repeats nothing, the check passes.
    land_and_load(engine, answer("smsc_dup", repeated[::2], minutes(45)))
    assert run_check(engine, "nixflex_recipient_is_unique").passed


# --- item 7 ---------------------------------------------------------------------------


def test_time_to_delivery_has_one_row_per_recipient_delivered_now(engine: Engine) -> None:
    timeline = {  # phone: its status at T, T+10, T+20, T+30 minutes
        "+441": ["queued", "delivered", "failed", "failed"],  # delivered, then not: no row
        "+442": ["queued", "delivered", "failed", "delivered"],  # one row, its first delivery
        "+443": ["delivered", "delivered", "delivered", "delivered"],  # delivered on sight
        "+444": ["queued", "sent", "sent", "delivered"],  # one row
    }
    land_and_load(
        engine,
        *(
            answer("smsc_ttd", [person(p, s[i]) for p, s in timeline.items()], minutes(10 * i))
            for i in range(4)
        ),
    )
    found = rows(
        engine,
        "select phone, sent_at, delivered_seen_at, seconds_to_delivery_at_most "
        "from sms.recipient_time_to_delivery order by phone",
    )
    # Sent at 11:01; first seen delivered at 12:10 (+442) and 12:30 (+444).
    assert found == [
        {
            "phone": "+442",
            "sent_at": SENT_AT,
            "delivered_seen_at": minutes(10),
            "seconds_to_delivery_at_most": 69 * 60,
        },
        {
            "phone": "+444",
            "sent_at": SENT_AT,
            "delivered_seen_at": minutes(30),
            "seconds_to_delivery_at_most": 89 * 60,
        },
    ]


def test_time_to_delivery_reads_the_same_in_any_session_time_zone(engine: Engine) -> None:
    land_and_load(
        engine,
        answer("smsc_tz", [person("+441", "queued")], T),
        answer("smsc_tz", [person("+441", "delivered")], minutes(10)),
    )
    query = text("select * from sms.recipient_time_to_delivery")
    seen = []
    for zone in ("UTC", "Pacific/Kiritimati", "America/St_Johns"):
        with engine.connect() as conn:
            conn.execute(text(f"set time zone '{zone}'"))
            seen.append([tuple(r) for r in conn.execute(query)])
    assert seen[0] == seen[1] == seen[2] and len(seen[0]) == 1
    assert seen[0][0][-1] == 69 * 60


# --- item 8 ---------------------------------------------------------------------------


def test_an_older_answer_loaded_late_moves_no_detail_back_and_records_no_change(
    engine: Engine,
) -> None:
    land_and_load(
        engine,
        answer("smsc_late", [person("+441", "queued", sid=None, sent_at=None)], T),
        answer("smsc_late", [person("+441", "sent", sid="SM1")], minutes(10)),
        # No status change: only the error and the Twilio id moved.
        answer("smsc_late", [person("+441", "sent", sid="SM2", error="Carrier busy")], minutes(30)),
    )
    # A slower request, fetched at T+20, lands last (a replay, or two runs overlapping). It
    # also lists a recipient the warehouse never held, which T+30 no longer lists.
    late = [person("+441", "delivered", sid="SM1"), person("+449", "queued")]
    land_and_load(engine, answer("smsc_late", late, minutes(20)))

    fact = rows(
        engine,
        "select phone, status, twilio_sid, error_message, sent_at, status_changed_at "
        "from sms.fact_recipient_delivery where campaign_id = 'smsc_late'",
    )
    assert fact == [
        {
            "phone": "+441",
            "status": "sent",
            "twilio_sid": "SM2",
            "error_message": "Carrier busy",
            "sent_at": SENT_AT,
            "status_changed_at": minutes(10),
        }
    ]
    changes = rows(
        engine,
        "select phone, from_status, to_status, observed_at from sms.fact_recipient_status_change "
        "order by phone, observed_at",
    )
    assert changes == [
        {"phone": "+441", "from_status": None, "to_status": "queued", "observed_at": T},
        {"phone": "+441", "from_status": "queued", "to_status": "sent", "observed_at": minutes(10)},
        # The recipient first seen late: its first observation, at the time it was made.
        {"phone": "+449", "from_status": None, "to_status": "queued", "observed_at": minutes(20)},
    ]
    kept = rows(
        engine,
        "select first_seen_at, missing_since from sms.recipient_delivery where phone = '+449'",
    )
    assert kept == [{"first_seen_at": minutes(20), "missing_since": minutes(30)}]
    assert counted(engine, "smsc_late")["total"] == 1
    assert run_check(engine, "nixflex_counts_match_recipients").passed


# --- item 9 ---------------------------------------------------------------------------


def test_a_recipient_the_vendor_stops_listing_stops_counting_and_the_counts_check_passes(
    engine: Engine,
) -> None:
    both = [person("+441", "delivered"), person("+442", "queued", sid=None, sent_at=None)]
    land_and_load(engine, answer("smsc_gone", both, T))
    # The vendor no longer lists +442; the campaign is done with everyone delivered.
    land_and_load(engine, answer("smsc_gone", both[:1], minutes(15), status="done"))
    assert counted(engine, "smsc_gone") == {
        "total": 1,
        "delivered": 1,
        "failed": 0,
        "pending": 0,
        "unknown": 0,
    }
    assert run_check(engine, "nixflex_counts_match_recipients").passed
    assert scalar(
        engine, "select missing_since from sms.recipient_delivery where phone = '+442'"
    ) == (minutes(15))
    # An answer fetched before that one, loaded late, does not bring +442 back.
    land_and_load(engine, answer("smsc_gone", both, minutes(10)))
    assert counted(engine, "smsc_gone")["total"] == 1
    assert run_check(engine, "nixflex_counts_match_recipients").passed
    # A later answer that lists it again counts it again, in its new state.
    back = [both[0], person("+442", "delivered")]
    land_and_load(engine, answer("smsc_gone", back, minutes(30), status="done"))
    assert counted(engine, "smsc_gone")["delivered"] == 2
    assert (
        scalar(
            engine, "select count(*) from sms.recipient_delivery where missing_since is not null"
        )
        == 0
    )
    assert run_check(engine, "nixflex_counts_match_recipients").passed


def test_new_pseudonyms_for_the_same_phones_do_not_double_a_campaign(engine: Engine) -> None:
    # A new privacy salt gives every phone a new pseudonym: to the warehouse, the campaign's
    # later answer lists other recipients.
    old = [person(f"+44*{i}:aaaa{i}", "queued", sid=None, sent_at=None) for i in range(3)]
    new = [person(f"+44*{i}:bbbb{i}", "delivered") for i in range(3)]
    land_and_load(engine, answer("smsc_salt", old, T), answer("smsc_salt", new, minutes(15)))
    assert counted(engine, "smsc_salt") == {
        "total": 3,
        "delivered": 3,
        "failed": 0,
        "pending": 0,
        "unknown": 0,
    }
    assert run_check(engine, "nixflex_counts_match_recipients").passed
    daily = scalar(engine, "select sum(total) from sms.daily_delivery where provider = 'nixflex'")
    assert daily == 3


def test_a_synced_campaign_whose_vendor_drops_a_recipient_counts_what_the_vendor_lists(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    victim = simulator.sim.nixflex_campaign_ids()[0]
    served: dict[str, Any] = {}

    def drop_last(doc: dict[str, Any]) -> None:
        gone = doc["recipients"].pop()
        doc["total_count"] -= 1
        bucket = BUCKET.get(gone["status"])
        if bucket is not None:
            doc[f"{bucket}_count"] -= 1
        served.update(doc)

    simulator.sim.inject(Fault("nixflex", "mutate", mutate=drop_last, path_contains=victim))
    with engine.begin() as conn:  # an operator asks for the campaign once more
        conn.execute(
            text(
                "update sms.campaign_poll_state set refresh_requested_at = now() "
                "where campaign_id = :c"
            ),
            {"c": victim},
        )
    simulator.clock.advance(timedelta(minutes=15))
    result = run_full_sync()
    assert served, "the campaign was fetched again"
    assert checks_by_name(result)["nixflex_counts_match_recipients"].passed
    buckets = [BUCKET.get(r["status"], "unknown") for r in served["recipients"]]
    assert counted(engine, victim) == {
        "total": len(buckets),
        "delivered": buckets.count("delivered"),
        "failed": buckets.count("failed"),
        "pending": buckets.count("pending"),
        "unknown": buckets.count("unknown"),
    }
    listed = rows(
        engine, "select phone from sms.fact_recipient_delivery where campaign_id = :c", c=victim
    )
    assert {r["phone"] for r in listed} == {r["phone"] for r in served["recipients"]}


# --- answers in any order (property) ----------------------------------------------------

PHONES = [f"+4470000000{i}" for i in range(6)]
STATUSES = ["pending", "queued", "sent", "delivered", "undelivered", "failed", "canceled"]

_recipient = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "twilio_sid": st.sampled_from([None, "SM1", "SM2"]),
        "error_message": st.sampled_from([None, "Unknown handset", "Carrier busy"]),
        "sent_at": st.sampled_from([None, SENT, "2026-11-20T11:05:00Z"]),
    }
)
_answer = st.dictionaries(st.sampled_from(PHONES), _recipient, max_size=len(PHONES))


@st.composite
def _answers_and_order(
    draw: st.DrawFn,
) -> tuple[list[dict[str, dict]], list[int], list[bool]]:
    answers = draw(st.lists(_answer, min_size=1, max_size=5))
    order = draw(st.permutations(range(len(answers))))
    # Some answers carry a field Nixflex does not document: the careful parser reads them.
    careful = draw(st.lists(st.booleans(), min_size=len(answers), max_size=len(answers)))
    return answers, order, careful


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=_answers_and_order())
def test_answers_loaded_in_any_order_leave_what_the_latest_answer_says(
    engine: Engine, case: tuple[list[dict[str, dict]], list[int], list[bool]]
) -> None:
    answers, order, careful = case
    campaign_id = f"smsc_{uuid.uuid4().hex[:12]}"  # each example its own campaign
    landed = []
    for i, listed in enumerate(answers):  # answer i was fetched at T + i minutes
        recipients = [{"phone": p, **r} for p, r in listed.items()]
        if careful[i] and recipients:
            recipients[0] = {**recipients[0], "carrier": "undocumented"}
        landed.append(land_now(engine, answer(campaign_id, recipients, minutes(i))))
    for i in order:
        load_answers(engine, [landed[i]], LoadOptions())

    latest = answers[-1]
    facts = rows(
        engine,
        "select phone, status, twilio_sid, error_message, sent_at "
        "from sms.fact_recipient_delivery where campaign_id = :c",
        c=campaign_id,
    )
    assert {f.pop("phone"): f for f in facts} == {
        p: {
            "status": r["status"],
            "twilio_sid": r["twilio_sid"],
            "error_message": r["error_message"],
            "sent_at": None
            if r["sent_at"] is None
            else datetime.fromisoformat(r["sent_at"].replace("Z", "+00:00")),
        }
        for p, r in latest.items()
    }
    buckets = [BUCKET.get(r["status"], "unknown") for r in latest.values()]
    assert counted(engine, campaign_id) == {
        "total": len(buckets),
        "delivered": buckets.count("delivered"),
        "failed": buckets.count("failed"),
        "pending": buckets.count("pending"),
        "unknown": buckets.count("unknown"),
    }
    _changes_only_move_forward(engine, campaign_id)


def _changes_only_move_forward(engine: Engine, campaign_id: str) -> None:
    """Each recipient's recorded changes, in time order, go on from one another: each starts
    from the status the one before it reached, after its first observation, and the last
    one reaches the status held. A change recorded at a time before one already recorded
    would break the chain."""
    held = rows(
        engine,
        "select phone, status, first_seen_at from sms.recipient_delivery where campaign_id = :c",
        c=campaign_id,
    )
    for recipient in held:
        chain = rows(
            engine,
            "select from_status, to_status, observed_at from sms.fact_recipient_status_change "
            "where campaign_id = :c and phone = :p order by observed_at",
            c=campaign_id,
            p=recipient["phone"],
        )
        assert chain[0]["from_status"] is None
        assert chain[0]["observed_at"] == recipient["first_seen_at"]
        for before, after in itertools.pairwise(chain):
            assert after["from_status"] == before["to_status"]
            assert after["observed_at"] > before["observed_at"]
        assert chain[-1]["to_status"] == recipient["status"]


@pytest.fixture(autouse=True)
def _no_leftover_pending(engine: Engine) -> Any:
    """Every answer a test lands ends loaded (none here is unreadable)."""
    yield
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where load_status <> 'loaded'")
        == 0
    )
