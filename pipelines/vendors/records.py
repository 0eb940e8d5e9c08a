"""Typed records the parsers produce, and the two ways a parse can refuse input.

A whole answer that cannot be read raises ``Unreadable`` (the response is quarantined);
one bad item inside a readable answer becomes a ``Rejected`` entry and the rest is loaded.
A readable answer with fields the vendor does not document is loaded, with a *note*
(a ``Rejected`` of kind ``unknown_field``) saying which: schema drift is reported, not
silently dropped and not fatal. Likewise an optional field that cannot be read (an
SMSFactor ``cost`` of ``"N/A"``) is loaded as NULL with a note (``unreadable_field``)
naming the field and the value: the item, its counters included, still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Quarantine kinds: stable words an operator can filter on.
UNREADABLE_BODY = "unreadable_body"
VENDOR_ERROR = "vendor_error"
UNKNOWN_SHAPE = "unknown_shape"
INVALID_ITEM = "invalid_item"
DUPLICATE_RECIPIENT = "duplicate_recipient"
UNKNOWN_FIELD = "unknown_field"  # a note: the answer loaded, these fields were not read
UNREADABLE_FIELD = "unreadable_field"  # a note: the item loaded, this optional field as NULL
# Notes: kept in raw.quarantine beside the rejected items, but their answer and item loaded.
NOTE_KINDS = frozenset({UNKNOWN_FIELD, UNREADABLE_FIELD})


class Unreadable(Exception):
    """The whole answer cannot be turned into records; ``kind`` is a quarantine kind."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class ItemProblem(ValueError):
    """One field of one item is not what the vendor documents."""


@dataclass(frozen=True)
class Rejected:
    """An item kept out of the facts, with why; stored in ``raw.quarantine``."""

    kind: str
    reason: str
    item: Any
    campaign_id: str | None = None


@dataclass(frozen=True)
class NixflexRecipient:
    phone: str
    status: str
    twilio_sid: str | None
    error_message: str | None
    rendered_message: str | None
    variables: dict[str, Any] | None
    sent_at: datetime | None


@dataclass(frozen=True)
class NixflexSummary:
    """A campaign as the list endpoint shows it (no recipients)."""

    campaign_id: str
    name: str | None
    status: str | None
    created_at: datetime | None
    total: int
    delivered: int
    failed: int
    pending: int


@dataclass(frozen=True)
class NixflexCampaign:
    campaign_id: str
    name: str | None
    agent_id: str | None
    sender: str | None
    message_text: str | None
    status: str | None
    source: str | None
    scheduled_at: datetime | None
    created_at: datetime | None
    reported_total: int
    reported_delivered: int
    reported_failed: int
    reported_pending: int
    recipients: tuple[NixflexRecipient, ...]
    rejected: tuple[Rejected, ...] = field(default=())
    notes: tuple[Rejected, ...] = field(default=())  # unknown fields (loaded anyway)


@dataclass(frozen=True)
class SmsFactorCampaign:
    """One SMSFactor campaign with its counters as integers and its dates in UTC."""

    campaign_id: str
    sender: str | None
    text: str | None
    status: str | None
    created_at: datetime | None
    send_date: datetime | None
    cost: Decimal | None
    delivery_rate: Decimal | None
    total: int
    delivered: int
    error: int
    expired: int
    network_error: int
    stop: int
    npai: int
    list_ids: tuple[str, ...]
    # Optional fields read as NULL, and why: about the campaign, not part of its value (its
    # equality and hash, which a note's item, a dict, would break).
    notes: tuple[Rejected, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ParsedBatch(Generic[T]):
    """Items read from one answer plus the items that were refused."""

    items: list[T]
    rejected: list[Rejected]
    notes: list[Rejected] = field(default_factory=list)  # unknown fields (loaded anyway)
