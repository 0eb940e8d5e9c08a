"""Pure Nixflex parsing: a decoded JSON payload in, typed records (or a refusal) out.

Shapes recognised (the vendor's documented pages, summed up in ``docs/vendors.md``):
- the current get page: ``total_count…pending_count`` and ``recipients[]`` with ``phone``;
- the older get page: ``recipients_count``/``sent_count``/``completed_at``, recipients with
  ``phone_number``. Its statuses have no documented counting rule, so it is recognised by
  name and quarantined with that reason rather than guessed at;
- the error envelope ``{"error": {"type", "code", "message", …}}``.
Anything else is an unknown shape. Fields the vendor does not document are loaded without
(and named in a note, ``unknown_field``), except those that would mean the recipients are
one page of many: counting a page as the campaign would miscount it, so such an answer is
quarantined as an unknown shape.
"""

from __future__ import annotations

from typing import Any

from pipelines.vendors import fields
from pipelines.vendors.records import (
    DUPLICATE_RECIPIENT,
    INVALID_ITEM,
    UNKNOWN_SHAPE,
    VENDOR_ERROR,
    ItemProblem,
    NixflexCampaign,
    NixflexRecipient,
    NixflexSummary,
    ParsedBatch,
    Rejected,
    Unreadable,
)

_LEGACY_KEYS = {"recipients_count", "sent_count", "replied_count", "completed_at"}
# Documented fields (the vendor's campaign pages; see docs/vendors.md).
CAMPAIGN_FIELDS = frozenset(
    {
        "campaign_id",
        "name",
        "agent_id",
        "from_number",
        "message_template",
        "status",
        "total_count",
        "delivered_count",
        "failed_count",
        "pending_count",
        "source",
        "scheduled_at",
        "created_at",
        "recipients",
    }
)
RECIPIENT_FIELDS = frozenset(
    {"phone", "variables", "status", "twilio_sid", "rendered_message", "error_message", "sent_at"}
)
SUMMARY_FIELDS = CAMPAIGN_FIELDS - {"recipients"}  # the list documents fewer; more are harmless
LIST_FIELDS = frozenset({"campaigns", "count"})
# The older shape paged its recipients (?recipients_limit=50&recipients_offset=0); any
# field like these means the list in hand may be a page, not the campaign.
PAGING_FIELDS = frozenset(
    {
        "recipients_limit",
        "recipients_offset",
        "recipients_total",
        "recipients_next",
        "recipients_page",
        "has_more",
        "next",
        "next_page",
        "next_cursor",
        "cursor",
        "offset",
        "limit",
        "page",
    }
)


def _require_object(payload: Any, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Unreadable(
            UNKNOWN_SHAPE, f"{what}: expected a JSON object, got {type(payload).__name__}"
        )
    if isinstance(payload.get("error"), dict):
        err = payload["error"]
        kind, code = fields.reason_text(err.get("type")), fields.reason_text(err.get("code"))
        raise Unreadable(
            VENDOR_ERROR,
            f"{what}: vendor error {kind}/{code}: {fields.reason_text(err.get('message'))}",
        )
    return payload


def _is_legacy(doc: dict[str, Any]) -> bool:
    if _LEGACY_KEYS & doc.keys() and "total_count" not in doc:
        return True
    recipients = doc.get("recipients")
    first = recipients[0] if isinstance(recipients, list) and recipients else None
    return isinstance(first, dict) and "phone_number" in first and "phone" not in first


def parse_recipient(item: Any) -> NixflexRecipient:
    """One recipient; raises ``ItemProblem`` when it cannot be counted."""
    if not isinstance(item, dict):
        raise ItemProblem(f"recipient should be an object, got {type(item).__name__}")
    variables = item.get("variables")
    if variables is not None:
        if not isinstance(variables, dict):
            raise ItemProblem("variables should be an object")
        if variables and (problem := fields.jsonb_problem(variables)):
            raise ItemProblem(f"variables {problem}")
    return NixflexRecipient(
        phone=fields.identifier(item, "phone"),
        status=fields.identifier(item, "status"),  # indexed with the campaign (unknown ones)
        twilio_sid=fields.text(item, "twilio_sid"),
        error_message=fields.text(item, "error_message"),
        rendered_message=fields.text(item, "rendered_message"),
        variables=variables,
        sent_at=fields.utc_timestamp(item, "sent_at"),
    )


def parse_campaign(payload: Any) -> NixflexCampaign:
    """A ``GET /v1/sms/campaigns/{id}`` answer.

    A recipient that cannot be read, or a phone listed a second time, is kept out and
    listed in ``rejected`` (the first occurrence of a phone is the one loaded).
    """
    doc = _require_object(payload, "campaign")
    recipients_raw = _whole_recipient_list(doc)
    header = _campaign_header(doc)
    campaign_id = header["campaign_id"]
    recipients, rejected = _read_recipients(recipients_raw, campaign_id)
    notes = fields.unknown_fields([doc], CAMPAIGN_FIELDS, campaign_id, "campaign")
    notes += fields.unknown_fields(recipients_raw, RECIPIENT_FIELDS, campaign_id, "recipients")
    return NixflexCampaign(
        **header, recipients=tuple(recipients), rejected=tuple(rejected), notes=tuple(notes)
    )


def _whole_recipient_list(doc: dict[str, Any]) -> list[Any]:
    """The campaign's recipients as listed; ``Unreadable`` for the older shape, a
    ``recipients`` that is not a list, or one that looks like a page of many."""
    if _is_legacy(doc):
        raise Unreadable(
            UNKNOWN_SHAPE,
            "campaign: older Nixflex shape (recipients_count/sent_count, recipients with "
            "phone_number) has no documented counting rule",
        )
    recipients_raw = doc.get("recipients")
    if not isinstance(recipients_raw, list):
        raise Unreadable(UNKNOWN_SHAPE, "campaign: 'recipients' should be a list")
    paging = sorted(str(k) for k in doc.keys() & PAGING_FIELDS)
    if paging:
        raise Unreadable(
            UNKNOWN_SHAPE,
            f"campaign: the recipients look paged ({', '.join(paging)}): one page counted as "
            "the campaign would miscount it",
        )
    return recipients_raw


def _campaign_header(doc: dict[str, Any]) -> dict[str, Any]:
    """The campaign's own fields, as ``NixflexCampaign`` keywords; ``Unreadable`` when one
    of them cannot be read."""
    try:
        campaign_id = fields.identifier(doc, "campaign_id")
        counts = {
            k: fields.integer(doc, f"{k}_count")
            for k in ("total", "delivered", "failed", "pending")
        }
        created_at = fields.utc_timestamp(doc, "created_at")
        scheduled_at = fields.utc_timestamp(doc, "scheduled_at")
        header = {
            k: fields.text(doc, k)
            for k in ("name", "agent_id", "from_number", "message_template", "status", "source")
        }
    except ItemProblem as exc:
        raise Unreadable(UNKNOWN_SHAPE, f"campaign: {exc}") from exc
    return {
        "campaign_id": campaign_id,
        "name": header["name"],
        "agent_id": header["agent_id"],
        "sender": header["from_number"],
        "message_text": header["message_template"],
        "status": header["status"],
        "source": header["source"],
        "scheduled_at": scheduled_at,
        "created_at": created_at,
        "reported_total": counts["total"],
        "reported_delivered": counts["delivered"],
        "reported_failed": counts["failed"],
        "reported_pending": counts["pending"],
    }


def _read_recipients(
    recipients_raw: list[Any], campaign_id: str
) -> tuple[list[NixflexRecipient], list[Rejected]]:
    """The recipients that can be counted, each phone once (its first occurrence), and the
    rejected ones: unreadable, or a phone listed again."""
    recipients: list[NixflexRecipient] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for position, item in enumerate(recipients_raw):
        try:
            recipient = parse_recipient(item)
        except ItemProblem as exc:
            rejected.append(
                Rejected(INVALID_ITEM, f"recipient #{position}: {exc}", item, campaign_id)
            )
            continue
        if recipient.phone in seen:
            rejected.append(
                Rejected(
                    DUPLICATE_RECIPIENT,
                    f"recipient #{position}: phone already listed earlier in this campaign",
                    item,
                    campaign_id,
                )
            )
            continue
        seen.add(recipient.phone)
        recipients.append(recipient)
    return recipients, rejected


def parse_summary(item: Any) -> NixflexSummary:
    """One entry of the list endpoint."""
    if not isinstance(item, dict):
        raise ItemProblem(f"campaign summary should be an object, got {type(item).__name__}")
    return NixflexSummary(
        campaign_id=fields.identifier(item, "campaign_id"),
        name=fields.text(item, "name"),
        status=fields.text(item, "status"),
        created_at=fields.utc_timestamp(item, "created_at"),
        total=fields.integer(item, "total_count"),
        delivered=fields.integer(item, "delivered_count"),
        failed=fields.integer(item, "failed_count"),
        pending=fields.integer(item, "pending_count"),
    )


def _listed_id(item: Any) -> str | None:
    """The campaign id of a list entry, when it is a text."""
    cid = item.get("campaign_id") if isinstance(item, dict) else None
    return cid if isinstance(cid, str) else None


def parse_list(payload: Any) -> ParsedBatch[NixflexSummary]:
    """A ``GET /v1/sms/campaigns`` page: ``{"campaigns": [...], "count": N}``."""
    doc = _require_object(payload, "campaign list")
    items = doc.get("campaigns")
    if not isinstance(items, list):
        raise Unreadable(UNKNOWN_SHAPE, "campaign list: 'campaigns' should be a list")
    summaries, rejected = fields.read_each(items, parse_summary, "summary", _listed_id)
    notes = fields.unknown_fields([doc], LIST_FIELDS, None, "campaign list")
    notes += fields.unknown_fields(items, SUMMARY_FIELDS, None, "campaign summaries")
    return ParsedBatch(summaries, rejected, notes)
