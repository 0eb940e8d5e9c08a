"""SMSFactor parsing, from the vendor's documented examples and quirks (docs/vendors.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines.vendors.records import SmsFactorCampaign, Unreadable
from pipelines.vendors.smsfactor_parse import decode, error_of, parse_campaigns, total_records

FIXTURES = Path(__file__).parent / "fixtures"

# The vendor's documented JSON example exactly as printed: not valid JSON (comments, a stray
# backtick after "error", no comma after "npai"). The vendor never sends this; a body like
# it must be quarantined, not half-read.
SEED_JSON_AS_PRINTED = """{
    "status": 1,
    "message": "OK",
    "campaign": [
        {
            "id": "18969398",
            "sender": "BESTSHOES",
            "text": "Special offer : Buy one shoe and get the second one for free",
            "creation_date": "2025-09-26 10:38:22",
            "date": "2025-09-26 10:38:22",   //Sending date
            "cost": "2128",                 //The cost of your campaign
            "lists": [                      //The ids of the lists you used to send
                {
                    "id": "5a0331bffc5886074551ce97"
                },
                {
                    "id": "5a0331bffc5886074551ce98"
                }
            ],
            "status": "Sent",
            "delivery_rate": "100",
            "delivered": "1958",
            "error": "0",`                  //Number of SMS in error (from operators)
            "expired": "0",                 //Number of SMS expired (from operators)
            "network_error": "0",           //Number of SMS in error (from operators)
            "stop": "0",                    //Number of stop replies
            "npai": "0"                     //Number of npai numbers
            "total": "1958"                 //Number of message before filtering
        }
    ]
}
"""

# 2025-09-26 is summer time in Paris (UTC+2): 10:38:22 local is 08:38:22 UTC.
SEED_SENT_UTC = datetime(2025, 9, 26, 8, 38, 22, tzinfo=UTC)


def parse_body(body: bytes) -> list[SmsFactorCampaign]:
    batch = parse_campaigns(decode(body))
    assert batch.rejected == []
    return batch.items


def seed_campaign() -> dict[str, Any]:
    """The campaign object of the repaired seed JSON, to vary one field at a time."""
    doc = json.loads((FIXTURES / "smsfactor_campaign_seed.json").read_text())
    return doc["campaign"][0]


def answer(*campaigns: dict[str, Any]) -> dict[str, Any]:
    return {"status": 1, "message": "OK", "campaign": list(campaigns)}


# --- the seed examples ---------------------------------------------------------------------


def test_seed_xml_parses_to_one_campaign_with_integer_counters() -> None:
    (campaign,) = parse_body((FIXTURES / "smsfactor_campaign_seed.xml").read_bytes())

    assert campaign.campaign_id == "18969398"
    assert campaign.sender == "BESTSHOES"
    assert campaign.text == "Special offer : Buy one shoe and get the second one for free"
    counters = (
        campaign.total,
        campaign.delivered,
        campaign.error,
        campaign.expired,
        campaign.network_error,
        campaign.stop,
        campaign.npai,
    )
    assert counters == (1958, 1958, 0, 0, 0, 0, 0)
    assert all(type(n) is int for n in counters)
    assert campaign.cost == Decimal("2128")
    assert campaign.delivery_rate == Decimal("100")


def test_seed_xml_keeps_every_repeated_lists_element() -> None:
    (campaign,) = parse_body((FIXTURES / "smsfactor_campaign_seed.xml").read_bytes())

    assert campaign.list_ids == ("12345", "45742")


def test_seed_xml_dates_are_paris_time_converted_to_utc() -> None:
    (campaign,) = parse_body((FIXTURES / "smsfactor_campaign_seed.xml").read_bytes())

    assert campaign.created_at == SEED_SENT_UTC
    assert campaign.send_date == SEED_SENT_UTC


def test_repaired_seed_json_gives_the_same_record_as_the_xml() -> None:
    # tests/fixtures/smsfactor_campaign_seed.json is the seed's JSON example repaired into
    # valid JSON: the `//` comments removed, the stray backtick after "error": "0", removed,
    # and the missing comma after "npai": "0" added. Nothing else changed.
    (from_json,) = parse_body((FIXTURES / "smsfactor_campaign_seed.json").read_bytes())
    (from_xml,) = parse_body((FIXTURES / "smsfactor_campaign_seed.xml").read_bytes())

    # The seed's two examples differ in two places only: the JSON lists hex ids and a
    # campaign status, the XML decimal ids and no status. Everything else must agree.
    assert from_json.list_ids == ("5a0331bffc5886074551ce97", "5a0331bffc5886074551ce98")
    assert from_json.status == "Sent"
    assert from_xml.status is None
    same_fields = [
        "campaign_id",
        "sender",
        "text",
        "created_at",
        "send_date",
        "cost",
        "delivery_rate",
        "total",
        "delivered",
        "error",
        "expired",
        "network_error",
        "stop",
        "npai",
    ]
    assert {f: getattr(from_json, f) for f in same_fields} == {
        f: getattr(from_xml, f) for f in same_fields
    }


def test_seed_json_as_printed_is_an_unreadable_body() -> None:
    with pytest.raises(Unreadable) as caught:
        decode(SEED_JSON_AS_PRINTED.encode())

    assert caught.value.kind == "unreadable_body"


# --- errors in the body (possibly on HTTP 200) ---------------------------------------------


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({"status": -1, "message": "Authentication error"}, -1),
        ({"status": "-5", "message": "Campaign not found"}, -5),  # numbers may come as text
        ({"status": -99, "message": "Unknown error", "details": "try later"}, -99),
    ],
)
def test_negative_status_is_an_error(doc: dict[str, Any], code: int) -> None:
    found = error_of(doc)
    assert found is not None
    assert found[0] == code
    assert doc["message"] in found[1]

    with pytest.raises(Unreadable) as caught:
        parse_campaigns(doc)
    assert caught.value.kind == "vendor_error"


def test_bare_error_object_is_an_error() -> None:
    doc = {"error": "Invalid token"}

    found = error_of(doc)
    assert found is not None
    assert "Invalid token" in found[1]

    with pytest.raises(Unreadable) as caught:
        parse_campaigns(doc)
    assert caught.value.kind == "vendor_error"


def test_xml_error_answer_is_an_error() -> None:
    body = b"<response><status>-5</status><message>Campaign not found</message></response>"

    with pytest.raises(Unreadable) as caught:
        parse_campaigns(decode(body))

    assert caught.value.kind == "vendor_error"


def test_ok_answer_is_not_an_error() -> None:
    assert error_of(answer(seed_campaign())) is None


# --- drift and bad items -------------------------------------------------------------------


def test_empty_campaign_array_is_zero_campaigns_not_an_error() -> None:
    batch = parse_campaigns(answer())

    assert batch.items == []
    assert batch.rejected == []


def test_per_campaign_status_as_integer_one_is_accepted() -> None:
    # docs/vendors.md: an older sister platform answers status as the integer 1.
    item = seed_campaign() | {"status": 1}

    batch = parse_campaigns(answer(item))

    assert batch.rejected == []
    assert [c.campaign_id for c in batch.items] == ["18969398"]
    assert batch.items[0].status == "1"


@pytest.mark.parametrize("bad", ["12.5", "abc"])
def test_unreadable_counter_rejects_that_campaign_only(bad: str) -> None:
    good_before = seed_campaign() | {"id": "100"}
    broken = seed_campaign() | {"id": "101", "delivered": bad}
    good_after = seed_campaign() | {"id": "102"}

    batch = parse_campaigns(answer(good_before, broken, good_after))

    assert [c.campaign_id for c in batch.items] == ["100", "102"]
    assert len(batch.rejected) == 1
    assert batch.rejected[0].kind == "invalid_item"
    assert batch.rejected[0].campaign_id == "101"
    assert "delivered" in batch.rejected[0].reason


# --- Paris time and daylight saving --------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        # Autumn: 02:00-03:00 happens twice on 2026-10-25; read as the first (UTC+2).
        ("2026-10-25 02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        # Spring: 02:00-03:00 does not exist on 2026-03-29; read with the winter offset.
        ("2026-03-29 02:30:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        # Plain winter time is UTC+1.
        ("2026-01-15 12:00:00", datetime(2026, 1, 15, 11, 0, tzinfo=UTC)),
    ],
)
def test_paris_dates_around_daylight_saving(local: str, utc: datetime) -> None:
    (campaign,) = parse_campaigns(answer(seed_campaign() | {"date": local})).items

    assert campaign.send_date == utc


def test_php_zero_date_is_no_date() -> None:
    item = seed_campaign() | {"date": "0000-00-00 00:00:00"}

    batch = parse_campaigns(answer(item))

    assert batch.rejected == []
    assert batch.items[0].send_date is None
    assert batch.items[0].created_at == SEED_SENT_UTC


# --- history -------------------------------------------------------------------------------

HISTORY_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<response>
    <status>1</status>
    <message>OK</message>
    <totalRecords>2</totalRecords>
    <totalDisplayRecords>2</totalDisplayRecords>
    <campaigns>
        <campaign>
            <id>18969398</id><sender>BESTSHOES</sender><status>Sent</status>
            <creation_date>2025-09-26 10:38:22</creation_date><date>2025-09-26 10:38:22</date>
            <cost>2128</cost><lists><id>12345</id></lists>
            <delivery_rate>100</delivery_rate><delivered>1958</delivered><error>0</error>
            <expired>0</expired><network_error>0</network_error><stop>0</stop><npai>0</npai>
            <total>1958</total>
        </campaign>
        <campaign>
            <id>18969399</id><sender>BESTSHOES</sender><status>Waiting</status>
            <creation_date>2025-09-27 09:00:00</creation_date><date>2025-10-01 09:00:00</date>
            <cost>0</cost>
            <delivery_rate>0</delivery_rate><delivered>0</delivered><error>0</error>
            <expired>0</expired><network_error>0</network_error><stop>0</stop><npai>0</npai>
            <total>500</total>
        </campaign>
    </campaigns>
</response>
"""


def test_history_xml_with_two_campaigns() -> None:
    doc = decode(HISTORY_XML)
    first, second = parse_body(HISTORY_XML)

    assert (first.campaign_id, first.status, first.list_ids) == ("18969398", "Sent", ("12345",))
    assert (second.campaign_id, second.status, second.list_ids) == ("18969399", "Waiting", ())
    assert second.total == 500
    assert second.send_date == datetime(2025, 10, 1, 7, 0, tzinfo=UTC)
    assert total_records(doc) == 2


def test_history_xml_with_one_campaign() -> None:
    start = HISTORY_XML.index(b"        <campaign>\n            <id>18969399")
    end = HISTORY_XML.index(b"    </campaigns>")
    body = HISTORY_XML[:start] + HISTORY_XML[end:]

    (only,) = parse_body(body)

    assert only.campaign_id == "18969398"


def test_history_json() -> None:
    doc = {
        "status": 1,
        "message": "OK",
        "totalRecords": "2",
        "totalDisplayRecords": "2",
        "campaigns": [seed_campaign(), seed_campaign() | {"id": "18969399"}],
    }

    batch = parse_campaigns(doc)

    assert [c.campaign_id for c in batch.items] == ["18969398", "18969399"]
    assert total_records(doc) == 2


# --- hostile XML ---------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE response [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<response><status>1</status><message>&lol9;</message><campaign/></response>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE response [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<response><status>1</status><message>&secret;</message><campaign/></response>
"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "xxe"])
def test_xml_entities_are_refused_not_expanded(body: bytes) -> None:
    with pytest.raises(Unreadable) as caught:
        decode(body)

    assert caught.value.kind == "unreadable_body"


@pytest.mark.parametrize("name", ["smsfactor_campaign_seed.xml", "smsfactor_campaign_seed.json"])
def test_the_seed_examples_have_no_undocumented_field(name: str) -> None:
    assert parse_campaigns(decode((FIXTURES / name).read_bytes())).notes == []


def test_undocumented_fields_are_loaded_without_and_noted() -> None:
    odd = {**seed_campaign(), "channel": "rcs"}
    batch = parse_campaigns({**answer(odd, seed_campaign()), "page": 1})
    assert len(batch.items) == 2 and batch.rejected == []
    reasons = [n.reason for n in batch.notes]
    assert len(reasons) == 2
    assert "page (1)" in reasons[0] and "channel (1)" in reasons[1]
