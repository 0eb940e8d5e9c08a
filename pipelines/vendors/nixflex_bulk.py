"""The usual Nixflex campaign answer, read fast: typed decoding (msgspec) straight from the
bytes to the rows of the loader's binary COPY, in one pass, with no dict per recipient.

``read(body, observed_at)`` gives a ``BulkCampaign`` only when the answer is *plain*: it
is UTF-8 JSON that ``json.loads`` reads, its ``campaign_id`` is readable, and every
recipient is an object whose ``phone`` (at most ``fields.MAX_KEY`` characters) and
``status`` are non-empty strings, whose other text fields are strings or null, whose
``variables`` is null or an object jsonb holds as the careful parser reads it (no NaN or
Infinity) and whose ``sent_at`` is null, empty or ISO-8601, with no phone listed twice, and
no field anywhere that the vendor does not document. Exactly then the careful parser
(``nixflex_parse``) would load every recipient as is, with no note, and the rows here are
the ones it would give (``tests/test_nixflex_bulk.py``, ``tests/test_load_paths.py`` and
``tests/test_parser_properties.py`` hold the two to that). Anything else gives None and the
caller hands the answer to ``nixflex_parse``, which can set one bad recipient aside and load
the rest. The campaign's other fields are left to ``nixflex_parse``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from pipelines.privacy import AS_RECEIVED, Privacy
from pipelines.rules import DELIVERED, FAILED, NIXFLEX_STATUS_BUCKET, UNKNOWN
from pipelines.vendors import fields, nixflex_parse
from pipelines.vendors.fields import iso_to_utc
from pipelines.vendors.records import ItemProblem

_NULL = msgspec.Raw(b"null")
_DONE = frozenset({DELIVERED, FAILED})

# One recipient as the loader's binary COPY sends it: its first observation, exactly as it
# enters sms.recipient_delivery (the table behind sms.fact_recipient_delivery) when new.
# Built here, in the decoding pass, because a tuple per recipient is the hot path's main
# cost in Python.
COPY_COLUMNS = (
    "campaign_id",
    "phone",
    "status",
    "delivery_bucket",
    "twilio_sid",
    "error_message",
    "rendered_message",
    "variables",  # jsonb's binary form: a version byte, then the JSON text as the vendor sent it
    "sent_at",  # UTC
    "first_seen_at",  # this observation's time (status_changed_at and first_status stay
    # NULL until the status first changes: migration 0021)
)
RecipientRow = tuple[
    str,
    str,
    str,
    str,
    str | None,
    str | None,
    str | None,
    bytes | None,
    datetime | None,
    datetime,
]
_SENT_AT, _BUCKET = COPY_COLUMNS.index("sent_at"), COPY_COLUMNS.index("delivery_bucket")
JSONB_V1 = b"\x01"  # binary COPY of jsonb: version 1, then the text (no re-encoding here)
# The careful road's json.loads refuses a whole answer holding an integer of more digits than
# int() converts (found in one pass: digits become "0", the rest a space).
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
# Where `variables` may hold a number past a float's range, about 1.8e308 (json.loads reads
# Infinity, which the careful parser refuses): an exponent of 3 digits, or at least 210
# digits before it. A hint only: such variables are then checked.
_ODD_NUMBER = re.compile(rb"\d{210}|[eE]\+?\d{3}")


# A recipient with a field the vendor does not document is not plain: the careful parser
# loads it and notes the field (forbid_unknown_fields makes the decoding fail instead).
class _Recipient(msgspec.Struct, gc=False, forbid_unknown_fields=True):  # no cycles to track
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
    campaign_id: str
    rows: list[RecipientRow]
    summary: Summary


def recipient_row(
    campaign_id: str,
    phone: str,
    status: str,
    twilio_sid: str | None,
    error_message: str | None,
    rendered_message: str | None,
    variables_json: bytes | None,
    sent_at: datetime | None,
    observed_at: datetime,
) -> RecipientRow:
    """The row of a recipient read some other way (the careful parser's records)."""
    bucket = NIXFLEX_STATUS_BUCKET.get(status, UNKNOWN)
    variables = None if variables_json is None else JSONB_V1 + variables_json
    return (campaign_id, phone, status, bucket, twilio_sid, error_message, rendered_message,
            variables, sent_at, observed_at)  # fmt: skip


def summarize(rows: Sequence[RecipientRow]) -> Summary:
    """The summary of rows built elsewhere (``read`` builds its own in the same pass)."""
    sent = [row[_SENT_AT] for row in rows if row[_SENT_AT] is not None]
    done = all(row[_BUCKET] in _DONE for row in rows)
    return Summary(len(rows), min(sent, default=None), max(sent, default=None), done)


def _utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 text (as Python decodes it: no encoded surrogates)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _as_careful(variables: bytes) -> bool:
    """Whether the careful road reads these ``variables`` (JSON text) and would load them."""
    try:
        value = json.loads(variables.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return fields.jsonb_problem(value) is None


def read(body: bytes, observed_at: datetime, privacy: Privacy = AS_RECEIVED) -> BulkCampaign | None:
    """The answer's rows, observed at ``observed_at``, when it is plain (see the module);
    else None. ``privacy`` says how phones, rendered messages and variables are written
    (pseudonymised: variables are still checked, so the answer takes the same road, and
    then left out)."""
    # What the careful road refuses, wherever it is, this refuses too: bytes that are not
    # UTF-8 text, an integer json.loads cannot convert. (Checked on the whole body: msgspec
    # checks neither in `variables`, kept as raw bytes, nor in the first value of a key
    # given twice, which it drops.) A few milliseconds for a campaign of 10,000.
    if not (body.isascii() or _utf8(body)):
        return None
    most = sys.get_int_max_str_digits()
    if most and len(body) > most and b"0" * (most + 1) in body.translate(_DIGITS_AS_ZEROS):
        return None
    try:
        top = _TOP.decode(body)
        listed = top.pop("recipients", None)
        if listed is None:
            return None
        people = _RECIPIENTS.decode(listed)
        if not top.keys() <= nixflex_parse.CAMPAIGN_FIELDS:
            return None  # undocumented fields: the careful parser notes them
        # The campaign's own fields are few: read them as the careful parser would.
        # (Decoded as UTF-8 first: json.loads on bytes would let encoded surrogates through.)
        header = {key: json.loads(bytes(value).decode("utf-8")) for key, value in top.items()}
        campaign_id = fields.identifier(header, "campaign_id")
    except (msgspec.DecodeError, ValueError, ItemProblem, RecursionError):
        return None  # ValidationError is a DecodeError; RecursionError: nested too deeply
    rows: list[RecipientRow] = []
    append = rows.append
    seen: set[str] = set()
    times: dict[str, datetime] = {}
    first_sent = last_sent = None
    all_done = True
    buckets = NIXFLEX_STATUS_BUCKET
    pseudonym = privacy.phone if privacy.pseudonymised else None
    keep_personal = not privacy.pseudonymised  # rendered messages and variables
    for r in people:
        phone, status = r.phone, r.status
        if (
            not phone
            or not status
            or phone in seen
            or max(len(phone), len(status)) > fields.MAX_KEY
            or "\x00" in phone
            or "\x00" in status
        ):
            return None
        seen.add(phone)
        variables: bytes | None = None
        if r.variables != _NULL:
            variables = JSONB_V1 + r.variables
            if variables[1:2] != b"{":
                return None  # not an object
            if _ODD_NUMBER.search(variables) and not _as_careful(variables[1:]):
                return None
        sent_at = None
        if r.sent_at:
            sent_at = times.get(r.sent_at)
            if sent_at is None:  # many recipients share a second: parse each text once
                try:
                    sent_at = times[r.sent_at] = iso_to_utc(r.sent_at)
                except ValueError:
                    return None
                # Only a text not seen before can be a new earliest or latest time.
                if first_sent is None or sent_at < first_sent:
                    first_sent = sent_at
                if last_sent is None or sent_at > last_sent:
                    last_sent = sent_at
        bucket = buckets.get(status, UNKNOWN)
        if all_done and bucket not in _DONE:
            all_done = False
        append(
            (
                campaign_id,
                pseudonym(phone) if pseudonym else phone,
                status,
                bucket,
                r.twilio_sid or None,
                r.error_message or None,
                (r.rendered_message or None) if keep_personal else None,
                variables if keep_personal else None,
                sent_at,
                observed_at,
            )
        )
    summary = Summary(len(rows), first_sent, last_sent, all_done)
    return BulkCampaign(header, campaign_id, rows, summary)
