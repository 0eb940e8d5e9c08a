"""The loader against a real Postgres: bad input is kept and quarantined, the rest loads.

Answers are landed with ``landing.land_now`` exactly as the fetch step lands them, then the
loader and the check SQL run as in a sync.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from pipelines.vendors.raw import RawResponse
from pipelines.warehouse.checks import run_check
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from tests.sync_helpers import BUCKET, rows, scalar

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def nixflex_detail(
    campaign_id: str,
    recipients: list[dict],
    at: datetime,
    body: bytes | None = None,
    status: str = "running",
) -> RawResponse:
    """A Nixflex campaign detail as the vendor serves it: its counts are its recipients'."""
    statuses = [BUCKET.get(r.get("status"), "unknown") for r in recipients]
    doc = {
        "campaign_id": campaign_id,
        "name": "March promotion",
        "agent_id": "agent_1",
        "from_number": "+447446466847",
        "message_template": "Hi {{first_name}}",
        "status": status,
        "total_count": len(recipients),
        "delivered_count": statuses.count("delivered"),
        "failed_count": statuses.count("failed"),
        "pending_count": statuses.count("pending"),
        "source": "api",
        "scheduled_at": None,
        "created_at": "2026-11-20T11:00:00Z",
        "recipients": recipients,
    }
    return RawResponse(
        provider="nixflex",
        endpoint="campaign.get",
        path=f"/sms/campaigns/{campaign_id}",
        params={},
        http_status=200,
        content_type="application/json",
        body=body if body is not None else json.dumps(doc).encode(),
        fetched_at=at,
        campaign_id=campaign_id,
    )


def recipient(phone: str, status: str) -> dict:
    return {
        "phone": phone,
        "variables": {"first_name": "Sam"},
        "status": status,
        "twilio_sid": "SM1",
        "rendered_message": "Hi Sam",
        "sent_at": "2026-11-20T11:01:00Z",
    }


def test_malformed_answer_is_quarantined_and_the_rest_loads(engine: Engine) -> None:
    good = nixflex_detail("smsc_good", [recipient("+441", "delivered")], T)
    truncated = nixflex_detail("smsc_bad", [], T, body=b'{"campaign_id": "smsc_bad", "recip')
    for raw in (truncated, good):
        land_now(engine, raw)
    stats = load_pending(engine)
    assert (stats.responses_loaded, stats.responses_quarantined) == (1, 1)
    assert scalar(engine, "select count(*) from sms.fact_recipient_delivery") == 1
    quarantined = rows(
        engine,
        "select q.campaign_id, q.kind, q.reason, r.body "
        "from raw.quarantine q join raw.vendor_response r using (response_id)",
    )
    assert len(quarantined) == 1
    assert quarantined[0]["campaign_id"] == "smsc_bad"
    assert quarantined[0]["kind"] == "unreadable_body"
    assert bytes(quarantined[0]["body"]) == truncated.body  # kept byte for byte
    assert run_check(engine, "raw_response_loaded_or_quarantined").passed
    assert run_check(engine, "no_quarantine_in_last_day").campaigns == ["nixflex:smsc_bad"]


def test_duplicate_phone_loads_once_and_the_unique_check_names_the_campaign(engine: Engine) -> None:
    land_now(
        engine,
        nixflex_detail(
            "smsc_dup",
            [
                recipient("+441", "delivered"),
                recipient("+441", "failed"),
                recipient("+442", "queued"),
            ],
            T,
        ),
    )
    load_pending(engine)
    facts = rows(engine, "select phone, status from sms.fact_recipient_delivery order by phone")
    assert facts == [
        {"phone": "+441", "status": "delivered"},
        {"phone": "+442", "status": "queued"},
    ]
    outcome = run_check(engine, "nixflex_recipient_is_unique")
    assert outcome.campaigns == ["nixflex:smsc_dup"]
    # The vendor counted the repeat too, so its counts no longer match the recipients.
    assert run_check(engine, "nixflex_counts_match_recipients").campaigns == ["nixflex:smsc_dup"]


def test_undocumented_status_is_kept_as_unknown_and_reported(engine: Engine) -> None:
    land_now(
        engine,
        nixflex_detail(
            "smsc_new", [recipient("+441", "delivered"), recipient("+442", "canceled")], T
        ),
    )
    load_pending(engine)
    mart = rows(
        engine,
        "select total, delivered, failed, pending, unknown "
        "from sms.campaign_delivery where campaign_id = 'smsc_new'",
    )
    assert mart == [{"total": 2, "delivered": 1, "failed": 0, "pending": 0, "unknown": 1}]
    outcome = run_check(engine, "nixflex_recipient_status_is_documented")
    assert [(r["campaign_id"], r["status"]) for r in outcome.rows] == [("smsc_new", "canceled")]


def test_an_older_answer_never_overwrites_a_newer_one(engine: Engine) -> None:
    land_now(engine, nixflex_detail("smsc_ooo", [recipient("+441", "delivered")], T))
    load_pending(engine)
    # A slower request, fetched earlier, lands afterwards.
    land_now(
        engine, nixflex_detail("smsc_ooo", [recipient("+441", "sent")], T - timedelta(minutes=5))
    )
    load_pending(engine)
    assert scalar(engine, "select status from sms.fact_recipient_delivery") == "delivered"
    assert scalar(engine, "select count(*) from sms.fact_recipient_status_change") == 1


def test_status_change_is_recorded_once_with_both_ends(engine: Engine) -> None:
    land_now(engine, nixflex_detail("smsc_c", [recipient("+441", "queued")], T))
    land_now(
        engine, nixflex_detail("smsc_c", [recipient("+441", "sent")], T + timedelta(minutes=1))
    )
    land_now(
        engine, nixflex_detail("smsc_c", [recipient("+441", "sent")], T + timedelta(minutes=2))
    )
    land_now(
        engine, nixflex_detail("smsc_c", [recipient("+441", "delivered")], T + timedelta(minutes=3))
    )
    load_pending(engine)
    changes = rows(
        engine,
        "select from_status, to_status, observed_at "
        "from sms.fact_recipient_status_change order by observed_at",
    )
    assert [(c["from_status"], c["to_status"]) for c in changes] == [
        (None, "queued"),
        ("queued", "sent"),
        ("sent", "delivered"),
    ]
    fact = rows(
        engine, "select status, first_seen_at, status_changed_at from sms.fact_recipient_delivery"
    )[0]
    assert fact == {
        "status": "delivered",
        "first_seen_at": T,
        "status_changed_at": T + timedelta(minutes=3),
    }
    assert scalar(engine, "select last_polled_at from sms.dim_campaign") == T + timedelta(minutes=3)


SEED_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<response><status>1</status><message>OK</message>
<campaign><id>18969398</id><sender>BESTSHOES</sender><text>Offer</text>
<creation_date>2025-09-26 10:38:22</creation_date><date>2025-09-26 10:38:22</date>
<cost>2128</cost><lists><id>12345</id></lists><lists><id>45742</id></lists>
<status>Sent</status><delivery_rate>100</delivery_rate><delivered>1958</delivered>
<error>0</error><expired>0</expired><network_error>0</network_error><stop>0</stop>
<npai>0</npai><total>1958</total></campaign></response>"""


def smsfactor_answer(body: bytes, at: datetime) -> RawResponse:
    return RawResponse(
        provider="smsfactor",
        endpoint="campaign.get",
        path="/campaign/18969398",
        params={},
        http_status=200,
        content_type="application/xml",
        body=body,
        fetched_at=at,
        campaign_id="18969398",
    )


def test_smsfactor_xml_answer_loads_and_unchanged_counters_add_no_snapshot(engine: Engine) -> None:
    land_now(engine, smsfactor_answer(SEED_XML, T))
    land_now(engine, smsfactor_answer(SEED_XML, T + timedelta(minutes=15)))
    land_now(
        engine,
        smsfactor_answer(
            SEED_XML.replace(b"<stop>0</stop>", b"<stop>3</stop>"), T + timedelta(minutes=30)
        ),
    )
    load_pending(engine)
    snapshots = rows(
        engine,
        "select observed_at, stop, total from sms.fact_campaign_counters order by observed_at",
    )
    assert [(s["observed_at"], s["stop"]) for s in snapshots] == [
        (T, 0),
        (T + timedelta(minutes=30), 3),
    ]
    dim = rows(engine, "select created_at, sent_at, reported_total from sms.dim_campaign")[0]
    # 10:38:22 in Paris on 26 September is summer time (UTC+2).
    assert dim["created_at"] == datetime(2025, 9, 26, 8, 38, 22, tzinfo=UTC)
    assert dim["reported_total"] == 1958


def test_smsfactor_error_inside_http_200_is_quarantined(engine: Engine) -> None:
    land_now(
        engine, smsfactor_answer(b'{"status": -7, "message": "Data error", "details": "bad id"}', T)
    )
    stats = load_pending(engine)
    assert stats.responses_quarantined == 1
    kind, reason = rows(engine, "select kind, reason from raw.quarantine")[0].values()
    assert kind == "vendor_error" and "-7" in reason


def test_an_undocumented_field_is_loaded_without_and_reported_by_its_check(
    engine: Engine,
) -> None:
    people = [{**recipient("+441", "delivered"), "carrier": "EE"}, recipient("+442", "sent")]
    land_now(engine, nixflex_detail("smsc_drift", people, T))
    stats = load_pending(engine)

    assert stats.responses_loaded == 1 and stats.items_flagged == 1
    assert stats.items_quarantined == 0
    assert scalar(engine, "select count(*) from sms.fact_recipient_delivery") == 2
    note = rows(engine, "select kind, item, campaign_id from raw.quarantine")
    assert note == [
        {"kind": "unknown_field", "item": {"fields": ["carrier"]}, "campaign_id": "smsc_drift"}
    ]
    assert "undocumented fields noted" in scalar(
        engine, "select load_note from raw.vendor_response"
    )
    drift = run_check(engine, "vendor_fields_are_documented")
    assert not drift.passed and drift.campaigns == ["nixflex:smsc_drift"]
    assert run_check(engine, "no_quarantine_in_last_day").passed  # nothing was kept out
