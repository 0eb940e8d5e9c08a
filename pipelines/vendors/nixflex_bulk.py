"""The usual Nixflex campaign answer, read fast: typed decoding (msgspec) straight from the
bytes to rows ready for a binary COPY, with no dict per recipient.

``read(body)`` gives a ``BulkCampaign`` only when the answer is *plain*: every recipient is
an object whose ``phone`` and ``status`` are non-empty strings, whose other text fields are
strings or null, whose ``variables`` is an object or null and whose ``sent_at`` is null,
empty or ISO-8601, with no phone listed twice. Exactly then the careful parser
(``nixflex_parse``) would load every recipient as is, and the rows here are the ones it
would give (``tests/test_load_paths.py`` loads tricky answers both ways). Anything else
gives None and the caller hands the answer to ``nixflex_parse``, which can set one bad
recipient aside and load the rest. The campaign's own fields are left to ``nixflex_parse``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from pipelines.rules import DELIVERED, FAILED, NIXFLEX_STATUS_BUCKET, UNKNOWN
from pipelines.vendors.fields import iso_to_utc

_NULL = msgspec.Raw(b"null")
_DONE = frozenset({DELIVERED, FAILED})

# One recipient row: phone, status, delivery_bucket, twilio_sid, error_message,
# rendered_message, variables (the object's JSON bytes, as sent), sent_at (UTC).
RecipientRow = tuple[
    str, str, str, str | None, str | None, str | None, bytes | None, datetime | None
]


class _Recipient(msgspec.Struct, gc=False):  # flat strings: no cycles to track
    phone: str
    status: str
    twilio_sid: str | None = None
    error_message: str | None = None
    rendered_message: str | None = None
    variables: msgspec.Raw = _NULL
    sent_at: str | None = None


_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RECIPIENTS = msgspec.json.Decoder(list[_Recipient])


@dataclass(frozen=True)
class Summary:
    """What a campaign answer's recipients say, for its dim row and its settlement."""

    recipients: int
    first_sent: datetime | None
    last_sent: datetime | None
    all_done: bool  # every recipient delivered or failed (none pending or undocumented)


@dataclass(frozen=True)
class BulkCampaign:
    """A plain campaign answer: its own fields (for ``nixflex_parse.parse_campaign``), its
    recipients as rows, and their summary."""

    header: dict[str, Any]
    rows: list[RecipientRow]
    summary: Summary


def summarize(rows: Sequence[RecipientRow]) -> Summary:
    """The summary of rows built elsewhere (``read`` builds its own in the same pass)."""
    sent = [row[7] for row in rows if row[7] is not None]
    done = all(row[2] in _DONE for row in rows)
    return Summary(len(rows), min(sent, default=None), max(sent, default=None), done)


def read(body: bytes) -> BulkCampaign | None:
    """The answer's rows when it is plain (see the module), else None."""
    try:
        top = _TOP.decode(body)
        listed = top.pop("recipients", None)
        if listed is None:
            return None
        people = _RECIPIENTS.decode(listed)
        # The campaign's own fields are few: read them as the careful parser would.
        header = {key: json.loads(bytes(value)) for key, value in top.items()}
    except (msgspec.DecodeError, ValueError):  # ValidationError is a DecodeError
        return None
    rows: list[RecipientRow] = []
    seen: set[str] = set()
    times: dict[str, datetime] = {}
    first_sent = last_sent = None
    all_done = True
    buckets = NIXFLEX_STATUS_BUCKET
    for r in people:
        phone, status = r.phone, r.status
        if not phone or not status or phone in seen:
            return None
        seen.add(phone)
        variables: bytes | None = bytes(r.variables)
        if variables == b"null":
            variables = None
        elif variables[:1] != b"{":
            return None
        sent_at = None
        if r.sent_at:
            sent_at = times.get(r.sent_at)
            if sent_at is None:  # many recipients share a second: parse each text once
                try:
                    sent_at = times[r.sent_at] = iso_to_utc(r.sent_at)
                except ValueError:
                    return None
            if first_sent is None or sent_at < first_sent:
                first_sent = sent_at
            if last_sent is None or sent_at > last_sent:
                last_sent = sent_at
        bucket = buckets.get(status, UNKNOWN)
        if bucket not in _DONE:
            all_done = False
        rows.append(
            (
                phone,
                status,
                bucket,
                r.twilio_sid or None,
                r.error_message or None,
                r.rendered_message or None,
                variables,
                sent_at,
            )
        )
    return BulkCampaign(header, rows, Summary(len(rows), first_sent, last_sent, all_done))
