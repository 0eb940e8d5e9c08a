"""The fast reader against the careful parser: for every answer, either the fast reader
declines it (None) or it gives exactly the rows the careful parser loads. It must decline
every answer in which the careful parser would set a recipient aside."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipelines.rules import delivery_bucket
from pipelines.vendors import nixflex_bulk, nixflex_parse
from pipelines.warehouse import recipient_rows
from tests.test_loader import T as AT
from tests.test_loader import recipient

HEADER = {
    "campaign_id": "smsc_a",
    "name": "Promo",
    "from_number": "+447446466847",
    "message_template": "Hi {{first_name}}",
    "status": "done",
    "total_count": 2,
    "delivered_count": 1,
    "failed_count": 1,
    "pending_count": 0,
    "created_at": "2026-11-20T09:00:00Z",
}


def _body(people: list[Any], **header: Any) -> bytes:
    return json.dumps({**HEADER, **header, "recipients": people}).encode()


def _careful_rows(body: bytes) -> list[tuple]:
    campaign = nixflex_parse.parse_campaign(json.loads(body))
    return [
        (
            campaign.campaign_id,
            r.phone,
            r.status,
            delivery_bucket(r.status),
            r.twilio_sid,
            r.error_message,
            r.rendered_message,
            r.variables,
            r.sent_at,
            AT,
            None,  # country: +441 and +442 are too short to be numbers of any country
        )
        for r in campaign.recipients
    ]


def _fast_rows(bulk: nixflex_bulk.BulkCampaign) -> list[tuple]:
    """The rows with `variables` decoded (jsonb's binary form: version byte 1, then JSON)."""
    rows = recipient_rows.from_bulk(bulk, AT)
    assert all(r[7] is None or r[7][:1] == b"\x01" for r in rows)
    return [(*r[:7], None if r[7] is None else json.loads(r[7][1:]), *r[8:]) for r in rows]


PLAIN_VARIANTS = {
    "usual": [recipient("+441", "delivered"), recipient("+442", "failed")],
    "empty strings are nulls": [
        {**recipient("+441", "sending"), "twilio_sid": "", "error_message": "", "sent_at": ""}
    ],
    "missing optional fields": [{"phone": "+441", "status": "queued"}],
    "offset and fraction": [
        {**recipient("+441", "sent"), "sent_at": "2026-11-20T13:01:02.123456+02:00"}
    ],
    "naive time is UTC": [{**recipient("+441", "sent"), "sent_at": "2026-11-20T13:01:02"}],
    "nested variables, unicode, escapes": [
        {
            **recipient("+441", "delivered"),
            "variables": {"a": {"b": [1, 2.5]}, "n": None, "name": "Zoé"},
            "rendered_message": 'Tab\there "quoted" back\\slash\nnew line ✓',
        }
    ],
    "no recipients": [],
}


@pytest.mark.parametrize("people", PLAIN_VARIANTS.values(), ids=PLAIN_VARIANTS.keys())
def test_a_plain_answer_gives_what_the_careful_parser_gives(people: list[Any]) -> None:
    body = _body(people)
    bulk = nixflex_bulk.read(body)
    assert bulk is not None
    assert _fast_rows(bulk) == _careful_rows(body)
    sent = [row[8] for row in _careful_rows(body) if row[8] is not None]
    summary = bulk.summary
    assert summary.first_sent == min(sent, default=None)
    assert summary.last_sent == max(sent, default=None)
    # The reader's own summary agrees with the one from the rows.
    assert summary == recipient_rows.summarize(recipient_rows.from_bulk(bulk, AT))
    careful = nixflex_parse.parse_campaign(json.loads(body))
    assert nixflex_parse.parse_campaign({**bulk.header, "recipients": []}).status == careful.status


NOT_PLAIN = {
    "phone twice": [recipient("+441", "delivered"), recipient("+441", "failed")],
    "empty phone": [recipient("", "delivered")],
    "no status": [{"phone": "+441"}],
    "phone as a number": [{**recipient("+441", "sent"), "phone": 441}],
    "variables a list": [{**recipient("+441", "sent"), "variables": ["x"]}],
    "impossible day": [{**recipient("+441", "sent"), "sent_at": "2026-02-30T10:00:00Z"}],
    "time not ISO": [{**recipient("+441", "sent"), "sent_at": "20/11/2026 10:00"}],
    "recipient not an object": ["+441"],
    "older shape": [{"phone_number": "+441", "status": "delivered"}],
    "undocumented recipient field": [{**recipient("+441", "delivered"), "carrier": "EE"}],
}


@pytest.mark.parametrize("people", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_an_answer_that_is_not_plain_is_left_to_the_careful_parser(people: list[Any]) -> None:
    assert nixflex_bulk.read(_body(people)) is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"campaign_id": "x"}',
        b'{"recipients": {}}',
        _body([])[:-5],
        b'{"recipients": []}',
        _body([], campaign_id=["x"]),
    ],
    ids=[
        "empty",
        "truncated",
        "array",
        "no recipients key",
        "recipients object",
        "cut",
        "no campaign id",
        "campaign id a list",
    ],
)
def test_an_unreadable_answer_is_declined_not_raised(body: bytes) -> None:
    assert nixflex_bulk.read(body) is None


def test_all_done_only_when_every_recipient_is_delivered_or_failed() -> None:
    first = recipient("+441", "delivered")
    done = nixflex_bulk.read(_body([first, recipient("+442", "sent")]))
    waiting = nixflex_bulk.read(_body([first, recipient("+442", "queued")]))
    odd = nixflex_bulk.read(_body([recipient("+441", "sending")]))
    assert done is not None and done.summary.all_done
    assert waiting is not None and not waiting.summary.all_done
    assert odd is not None and not odd.summary.all_done
