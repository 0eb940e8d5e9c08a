"""The usual Nixflex campaign answer, read fast: typed decoding (msgspec) straight from the
bytes to one plain record per recipient, checked in one pass, with no dict per recipient.

``read(body)`` gives a ``BulkCampaign`` only when the answer is *plain*: it is UTF-8 JSON
that ``json.loads`` reads, its ``campaign_id`` is readable, and every recipient is an object
whose ``phone`` (at most ``fields.MAX_KEY`` characters) and ``status`` are non-empty
strings, whose other text fields are strings or null, whose ``variables`` is null or an
object jsonb holds as the careful parser reads it (no NaN or Infinity) and whose ``sent_at``
is null, empty or ISO-8601, with no phone listed twice, and no field anywhere that the
vendor does not document. Exactly then the careful parser (``nixflex_parse``) would load
every recipient as is, with no note, and the rows the warehouse builds from these records
(``pipelines.warehouse.recipient_rows``) are the ones it would give
(``tests/test_nixflex_bulk.py``, ``tests/test_load_paths.py`` and
``tests/test_parser_properties.py`` hold the two to that). Anything else gives None and the
caller hands the answer to ``nixflex_parse``, which can set one bad recipient aside and load
the rest. The campaign's other fields are left to ``nixflex_parse``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from pipelines.rules import DELIVERED, FAILED, NIXFLEX_STATUS_BUCKET
from pipelines.vendors import fields, nixflex_parse
from pipelines.vendors.fields import iso_to_utc
from pipelines.vendors.records import ItemProblem

NO_VARIABLES = _NULL = msgspec.Raw(b"null")  # a recipient's `variables` when null or absent
_DONE = frozenset({DELIVERED, FAILED})

# The careful road's json.loads refuses a whole answer holding an integer of more digits than
# int() converts (found in one pass: digits become "0", the rest a space).
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
# `variables` that need a closer look: not an object (refused), or maybe holding a number past
# a float's range, about 1.8e308 (json.loads reads Infinity, which the careful parser
# refuses): an exponent of 3 digits, or at least 210 digits before it. One match per
# recipient with variables; a hint only, such variables are then checked.
_ODD_VARIABLES = re.compile(rb"[^{]|.*?(?:\d{210}|[eE]\+?\d{3})", re.DOTALL)
# The statuses of the delivered and failed buckets: a campaign is all done when every
# recipient has one.
_DONE_STATUSES = frozenset(s for s, b in NIXFLEX_STATUS_BUCKET.items() if b in _DONE)


# A recipient with a field the vendor does not document is not plain: the careful parser
# loads it and notes the field (forbid_unknown_fields makes the decoding fail instead).
class Recipient(msgspec.Struct, gc=False, forbid_unknown_fields=True):  # no cycles to track
    """One recipient as the vendor sent it (``variables``: its JSON text, as sent)."""

    phone: str
    status: str
    twilio_sid: str | None = None
    error_message: str | None = None
    rendered_message: str | None = None
    variables: msgspec.Raw = _NULL
    sent_at: str | None = None


_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RECIPIENTS = msgspec.json.Decoder(list[Recipient])


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
    recipients as sent, each ``sent_at`` text read as a UTC time, and their summary."""

    header: dict[str, Any]
    campaign_id: str
    recipients: list[Recipient]
    sent_times: dict[str | None, datetime]  # sent_at text → UTC time (none for null or "")
    summary: Summary


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


def _odd_variables_load(variables: msgspec.Raw) -> bool:
    """Whether ``variables`` that ``_ODD_VARIABLES`` matched are still plain: an object the
    careful road reads and would load."""
    text = bytes(variables)
    return text[:1] == b"{" and _as_careful(text)


def _careful_reads_whole(body: bytes) -> bool:
    """Whether the careful road's ``json.loads`` reads the body at all. What it refuses,
    wherever it is, this refuses too: bytes that are not UTF-8 text, an integer json.loads
    cannot convert. (Checked on the whole body: msgspec checks neither in `variables`, kept
    as raw bytes, nor in the first value of a key given twice, which it drops.) A few
    milliseconds for a campaign of 10,000."""
    if not (body.isascii() or _utf8(body)):
        return False
    most = sys.get_int_max_str_digits()
    return not (most and len(body) > most and b"0" * (most + 1) in body.translate(_DIGITS_AS_ZEROS))


def _decode(body: bytes) -> tuple[dict[str, Any], str, list[Recipient]] | None:
    """The campaign's own fields, its id and its recipients; None when not plain."""
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
    return header, campaign_id, people


def read(body: bytes) -> BulkCampaign | None:
    """The answer's recipients when it is plain (see the module); else None."""
    if not _careful_reads_whole(body):
        return None
    decoded = _decode(body)
    if decoded is None:
        return None
    header, campaign_id, people = decoded
    sent_times: dict[str | None, datetime] = {}
    summary = _check_recipients(people, sent_times)
    if summary is None:
        return None
    return BulkCampaign(header, campaign_id, people, sent_times, summary)


def _check_recipients(
    people: list[Recipient], sent_times: dict[str | None, datetime]
) -> Summary | None:
    """The summary of ``people`` when every one is plain, else None; fills ``sent_times``
    (each ``sent_at`` text read once: many recipients share a second). The hot loop: one
    pass, no call or allocation per recipient beyond what a check needs."""
    seen: set[str] = set()
    first_sent = last_sent = None
    all_done = True
    null, longest, done = _NULL, fields.MAX_KEY, _DONE_STATUSES
    for r in people:
        phone, status = r.phone, r.status
        if (
            not phone
            or not status
            or phone in seen
            or len(phone) > longest
            or len(status) > longest
            or "\x00" in phone
            or "\x00" in status
        ):
            return None
        seen.add(phone)
        variables = r.variables
        if (
            variables != null
            and _ODD_VARIABLES.match(variables)
            and not _odd_variables_load(variables)
        ):
            return None
        sent = r.sent_at
        if sent and sent not in sent_times:
            try:
                sent_at = sent_times[sent] = iso_to_utc(sent)
            except ValueError:
                return None
            # Only a text not seen before can be a new earliest or latest time.
            if first_sent is None or sent_at < first_sent:
                first_sent = sent_at
            if last_sent is None or sent_at > last_sent:
                last_sent = sent_at
        if all_done and status not in done:
            all_done = False
    return Summary(len(people), first_sent, last_sent, all_done)
