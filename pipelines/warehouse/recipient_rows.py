"""The rows of ``sms.recipient_delivery`` that the loader's binary COPY sends: a Nixflex
recipient's first observation, exactly as it enters the table (the one behind
``sms.fact_recipient_delivery``) when new, written as ``pipelines.warehouse.privacy`` says.

Rows come from the fast reader's records (``from_bulk``: the usual, plain answer) or from
the careful parser's (``from_records``); both give the same row for the same recipient. A
tuple per recipient is the hot path's main cost in Python: ``from_bulk`` builds them in one
comprehension, with no call per recipient but the country's.

A row holds its recipient's country (``pipelines.warehouse.country``, from the number as
received, so it survives pseudonymisation) when ``placed``: the loader asks for it when the
rows are a campaign's first, and else places only the recipients the campaign does not hold
yet, once staged (``Recipients.phones`` says which number each row was built from).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pipelines.rules import DELIVERED, FAILED, NIXFLEX_STATUS_BUCKET, UNKNOWN
from pipelines.vendors.nixflex_bulk import NO_VARIABLES, BulkCampaign, Summary
from pipelines.vendors.records import NixflexCampaign
from pipelines.warehouse.country import countries
from pipelines.warehouse.privacy import AS_RECEIVED, Privacy

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
    # NULL until the status first changes)
    "country",  # ISO 3166-1 alpha-2 from the number as received, or NULL
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
    str | None,
]
_SENT_AT, _BUCKET = COPY_COLUMNS.index("sent_at"), COPY_COLUMNS.index("delivery_bucket")
JSONB_V1 = b"\x01"  # binary COPY of jsonb: version 1, then the text (no re-encoding here)
_DONE = frozenset({DELIVERED, FAILED})


@dataclass(frozen=True)
class Recipients:
    """One answer's recipients before they become rows: ``count`` of them; ``rows(placed)``
    builds their rows, each with its country when ``placed`` (else NULL); ``phones()``, the
    numbers as received, in the order of the rows."""

    count: int
    rows: Callable[[bool], list[RecipientRow]]
    phones: Callable[[], list[str]]


def of_bulk(bulk: BulkCampaign, observed_at: datetime, privacy: Privacy) -> Recipients:
    """The recipients of a plain answer (see ``from_bulk``)."""
    return Recipients(
        len(bulk.recipients),
        partial(from_bulk, bulk, observed_at, privacy),
        lambda: [r.phone for r in bulk.recipients],
    )


def of_records(campaign: NixflexCampaign, observed_at: datetime, privacy: Privacy) -> Recipients:
    """The recipients the careful parser read (see ``from_records``)."""
    return Recipients(
        len(campaign.recipients),
        partial(from_records, campaign, observed_at, privacy),
        lambda: [r.phone for r in campaign.recipients],
    )


def from_bulk(
    bulk: BulkCampaign,
    observed_at: datetime,
    privacy: Privacy = AS_RECEIVED,
    placed: bool = True,
) -> list[RecipientRow]:
    """The rows of a plain answer's recipients, observed at ``observed_at`` (pseudonymised:
    no rendered message and no variables), with their countries when ``placed``."""
    campaign_id, sent_at, buckets = bulk.campaign_id, bulk.sent_times.get, NIXFLEX_STATUS_BUCKET
    null = NO_VARIABLES
    recipients = bulk.recipients
    places = countries([r.phone for r in recipients]) if placed else [None] * len(recipients)
    if privacy.pseudonymised:
        pseudonym = privacy.phone
        return [
            (campaign_id, pseudonym(r.phone), r.status, buckets.get(r.status, UNKNOWN),
             r.twilio_sid or None, r.error_message or None, None, None, sent_at(r.sent_at),
             observed_at, place)
            for r, place in zip(recipients, places, strict=True)
        ]  # fmt: skip
    return [
        (campaign_id, r.phone, r.status, buckets.get(r.status, UNKNOWN), r.twilio_sid or None,
         r.error_message or None, r.rendered_message or None,
         None if r.variables == null else JSONB_V1 + r.variables, sent_at(r.sent_at),
         observed_at, place)
        for r, place in zip(recipients, places, strict=True)
    ]  # fmt: skip


def from_records(
    campaign: NixflexCampaign,
    observed_at: datetime,
    privacy: Privacy = AS_RECEIVED,
    placed: bool = True,
) -> list[RecipientRow]:
    """The rows of the recipients the careful parser read (an answer that is not plain)."""
    rows: list[RecipientRow] = []
    recipients = campaign.recipients
    places = countries([r.phone for r in recipients]) if placed else [None] * len(recipients)
    for r, place in zip(recipients, places, strict=True):
        variables = privacy.variables(r.variables)
        rows.append(
            (campaign.campaign_id, privacy.phone(r.phone), r.status,
             NIXFLEX_STATUS_BUCKET.get(r.status, UNKNOWN), r.twilio_sid, r.error_message,
             privacy.rendered(r.rendered_message),
             None if variables is None else JSONB_V1 + json.dumps(variables).encode(),
             r.sent_at, observed_at, place)
        )  # fmt: skip
    return rows


def summarize(rows: Sequence[RecipientRow]) -> Summary:
    """The summary of rows (the fast reader gives its own, from the same recipients)."""
    sent = [row[_SENT_AT] for row in rows if row[_SENT_AT] is not None]
    done = all(row[_BUCKET] in _DONE for row in rows)
    return Summary(len(rows), min(sent, default=None), max(sent, default=None), done)
