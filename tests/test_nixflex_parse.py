"""Nixflex parsing, from the vendor's documented example response and shapes (docs/vendors.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.rules import delivery_bucket
from pipelines.vendors.nixflex_parse import parse_campaign, parse_list
from pipelines.vendors.records import Unreadable

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def seed() -> dict[str, Any]:
    """The ``GET /v1/sms/campaigns/smsc_a1b2c3d4`` response, as the vendor documents it."""
    return json.loads((FIXTURES / "nixflex_campaign_seed.json").read_text())


def recipient(phone: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"phone": phone, "status": status, **extra}


def summary(campaign_id: str, **overrides: Any) -> dict[str, Any]:
    """One list entry with the documented summary fields."""
    item = {
        "campaign_id": campaign_id,
        "name": "March promotion",
        "agent_id": "agent_125207e452f8714a",
        "from_number": "+447446466847",
        "status": "done",
        "total_count": 100,
        "delivered_count": 95,
        "failed_count": 3,
        "pending_count": 2,
        "source": "dashboard",
        "created_at": "2026-05-17T03:45:12Z",
    }
    item.update(overrides)
    return item


# --- the documented example ----------------------------------------------------------------


def test_seed_campaign_header_fields(seed: dict[str, Any]) -> None:
    campaign = parse_campaign(seed)

    assert campaign.campaign_id == "smsc_a1b2c3d4"
    assert campaign.name == "March promotion"
    assert campaign.agent_id == "agent_125207e452f8714a"
    assert campaign.sender == "+447446466847"
    assert campaign.message_text == "Hi {{first_name}}, 20% off cleanings..."
    assert campaign.status == "done"
    assert campaign.source == "dashboard"
    assert campaign.rejected == ()


def test_seed_campaign_counts_are_integers(seed: dict[str, Any]) -> None:
    campaign = parse_campaign(seed)

    counts = (
        campaign.reported_total,
        campaign.reported_delivered,
        campaign.reported_failed,
        campaign.reported_pending,
    )
    assert counts == (100, 95, 3, 2)
    assert all(type(n) is int for n in counts)


def test_seed_campaign_times_are_utc(seed: dict[str, Any]) -> None:
    campaign = parse_campaign(seed)

    assert campaign.created_at == datetime(2026, 5, 17, 3, 45, 12, tzinfo=UTC)
    assert campaign.created_at.utcoffset().total_seconds() == 0
    assert campaign.scheduled_at is None  # "scheduled_at": null in the documented example


def test_seed_recipients(seed: dict[str, Any]) -> None:
    sarah, james = parse_campaign(seed).recipients

    assert sarah.phone == "+447111000001"
    assert sarah.status == "delivered"
    assert sarah.twilio_sid == "SM1234567890"
    assert sarah.variables == {"first_name": "Sarah"}
    assert sarah.rendered_message == "Hi Sarah, 20% off cleanings..."
    assert sarah.error_message is None  # the seed omits the key for a delivered recipient
    assert sarah.sent_at == datetime(2026, 5, 17, 3, 45, 14, tzinfo=UTC)

    assert james.phone == "+447111000002"
    assert james.status == "failed"
    assert james.error_message == "Unknown handset"
    assert james.sent_at == datetime(2026, 5, 17, 3, 45, 15, tzinfo=UTC)


def test_seed_recipients_count_by_the_documented_rule(seed: dict[str, Any]) -> None:
    buckets = [delivery_bucket(r.status) for r in parse_campaign(seed).recipients]

    assert buckets == ["delivered", "failed"]


# --- whole answers that cannot be loaded ---------------------------------------------------


def test_error_envelope_is_a_vendor_error() -> None:
    envelope = {
        "error": {
            "type": "not_found",
            "code": "campaign_not_found",
            "message": "Campaign not found",
            "doc_url": "https://docs.nixflex.com/errors#campaign_not_found",
            "details": {},
        }
    }

    with pytest.raises(Unreadable) as caught:
        parse_campaign(envelope)

    assert caught.value.kind == "vendor_error"
    assert "campaign_not_found" in caught.value.reason


def test_older_documented_shape_is_quarantined_as_unknown_shape() -> None:
    # The older get page (docs/vendors.md): no documented counting rule.
    older = json.loads((FIXTURES / "nixflex_older_campaign_seed.json").read_text())

    with pytest.raises(Unreadable) as caught:
        parse_campaign(older)

    assert caught.value.kind == "unknown_shape"


def test_recipients_with_phone_number_only_are_the_older_shape(seed: dict[str, Any]) -> None:
    # Current header, but recipients in the older spelling: still not something we can count.
    for item in seed["recipients"]:
        item["phone_number"] = item.pop("phone")

    with pytest.raises(Unreadable) as caught:
        parse_campaign(seed)

    assert caught.value.kind == "unknown_shape"


# --- one bad recipient inside a readable answer --------------------------------------------


@pytest.mark.parametrize("missing", ["phone", "status"])
def test_recipient_missing_phone_or_status_is_rejected_others_load(
    seed: dict[str, Any], missing: str
) -> None:
    broken = recipient("+447111000003", "delivered")
    del broken[missing]
    seed["recipients"].insert(1, broken)

    campaign = parse_campaign(seed)

    assert [r.phone for r in campaign.recipients] == ["+447111000001", "+447111000002"]
    assert len(campaign.rejected) == 1
    rejected = campaign.rejected[0]
    assert rejected.kind == "invalid_item"
    assert missing in rejected.reason
    assert rejected.item == broken
    assert rejected.campaign_id == "smsc_a1b2c3d4"


def test_repeated_phone_keeps_the_first_and_rejects_the_repeat(seed: dict[str, Any]) -> None:
    repeat = recipient("+447111000001", "failed", error_message="Unknown handset")
    seed["recipients"].append(repeat)

    campaign = parse_campaign(seed)

    assert [(r.phone, r.status) for r in campaign.recipients] == [
        ("+447111000001", "delivered"),
        ("+447111000002", "failed"),
    ]
    assert [(x.kind, x.item) for x in campaign.rejected] == [("duplicate_recipient", repeat)]


def test_undocumented_status_is_kept_not_rejected(seed: dict[str, Any]) -> None:
    # docs/vendors.md: an unknown status is data to report, not a crash.
    seed["recipients"].append(recipient("+447111000003", "canceled"))

    campaign = parse_campaign(seed)

    assert campaign.rejected == ()
    assert [r.status for r in campaign.recipients] == ["delivered", "failed", "canceled"]
    assert delivery_bucket(campaign.recipients[-1].status) == "unknown"


# --- the list endpoint ---------------------------------------------------------------------


def test_list_page_parses_summaries_newest_first() -> None:
    payload = {
        "campaigns": [
            summary("smsc_b", created_at="2026-05-18T09:00:00Z", status="running"),
            summary("smsc_a"),
        ],
        "count": 2,
    }

    batch = parse_list(payload)

    assert [s.campaign_id for s in batch.items] == ["smsc_b", "smsc_a"]
    first = batch.items[0]
    assert first.status == "running"
    assert first.created_at == datetime(2026, 5, 18, 9, 0, tzinfo=UTC)
    assert (first.total, first.delivered, first.failed, first.pending) == (100, 95, 3, 2)
    assert batch.rejected == []


def test_list_page_rejects_a_bad_summary_and_keeps_the_rest() -> None:
    bad = summary("smsc_bad", delivered_count="many")
    payload = {"campaigns": [summary("smsc_b"), bad, summary("smsc_a")], "count": 3}

    batch = parse_list(payload)

    assert [s.campaign_id for s in batch.items] == ["smsc_b", "smsc_a"]
    assert len(batch.rejected) == 1
    assert batch.rejected[0].kind == "invalid_item"
    assert batch.rejected[0].campaign_id == "smsc_bad"
    assert "delivered_count" in batch.rejected[0].reason


def test_list_page_error_envelope_is_a_vendor_error() -> None:
    envelope = {"error": {"type": "authentication_error", "code": "invalid_api_key"}}

    with pytest.raises(Unreadable) as caught:
        parse_list(envelope)

    assert caught.value.kind == "vendor_error"


def test_list_page_without_campaigns_is_unknown_shape() -> None:
    with pytest.raises(Unreadable) as caught:
        parse_list({"items": [], "count": 0})

    assert caught.value.kind == "unknown_shape"


def test_the_seed_page_has_no_undocumented_field(seed: dict[str, Any]) -> None:
    assert parse_campaign(seed).notes == ()


def test_undocumented_fields_are_loaded_without_and_noted(seed: dict[str, Any]) -> None:
    seed["priority"] = "high"
    seed["recipients"][0]["carrier"] = "EE"
    seed["recipients"][1]["carrier"] = "O2"
    campaign = parse_campaign(seed)
    assert len(campaign.recipients) == len(seed["recipients"])  # nothing kept out
    assert [(n.kind, n.item) for n in campaign.notes] == [
        ("unknown_field", {"fields": ["priority"]}),
        ("unknown_field", {"fields": ["carrier"]}),
    ]
    assert "carrier (2)" in campaign.notes[1].reason
    assert all(n.campaign_id == seed["campaign_id"] for n in campaign.notes)


@pytest.mark.parametrize("field", ["recipients_offset", "has_more", "next_page"])
def test_recipients_that_look_paged_are_an_unknown_shape(seed: dict[str, Any], field: str) -> None:
    seed[field] = 50
    with pytest.raises(Unreadable) as caught:
        parse_campaign(seed)
    assert caught.value.kind == "unknown_shape" and field in caught.value.reason


def test_undocumented_summary_fields_are_noted() -> None:
    page = parse_list({"campaigns": [summary("smsc_1", channel="whatsapp")], "count": 1})
    assert [s.campaign_id for s in page.items] == ["smsc_1"]
    assert len(page.notes) == 1 and "channel (1)" in page.notes[0].reason
