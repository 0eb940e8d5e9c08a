"""Pure SMSFactor parsing: bytes in (JSON or XML), typed campaigns (or a refusal) out.

Quirks handled, all from the vendor's documented pages (``docs/vendors.md``):
- every number is a string; counters become ``int``, money and rates ``Decimal``, read
  also as a French locale writes them (``"1 234,5"``: ``fields.decimal``); a ``cost`` or
  ``delivery_rate`` that still cannot be read (``"N/A"``, ``"-"``) is loaded as NULL with a
  note (``unreadable_field``), while a counter that cannot be read refuses the campaign;
- ``campaign`` is an array in JSON (possibly empty) and a repeated element in XML, where
  ``<lists>`` is repeated once per list;
- errors come in the body, possibly with HTTP 200: ``status`` < 0, or ``{"error": "…"}``;
- a per-campaign ``status`` may come as the integer 1 (older sister platform);
- dates are Europe/Paris local time without a zone, converted to UTC here.
XML is read with defusedxml: vendor bytes never get entity expansion or external fetches.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from pipelines.vendors import fields
from pipelines.vendors.records import (
    UNKNOWN_SHAPE,
    UNREADABLE_BODY,
    UNREADABLE_FIELD,
    VENDOR_ERROR,
    ItemProblem,
    ParsedBatch,
    Rejected,
    SmsFactorCampaign,
    Unreadable,
)

ERROR_MEANINGS = {
    -1: "authentication error",
    -2: "XML error",
    -3: "not enough credits",
    -4: "incorrect date",
    -5: "resource not found",
    -6: "JSON error",
    -7: "data error",
    -8: "under moderation",
    -99: "unknown error",
}


def _xml_value(element: Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        value = _xml_value(child)
        if child.tag in out:
            previous = out[child.tag]
            out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    return out


# Documented fields (docs/vendors.md); others are loaded without, noted.
CAMPAIGN_FIELDS = frozenset(
    {
        "id",
        "sender",
        "text",
        "creation_date",
        "date",
        "cost",
        "lists",
        "status",
        "delivery_rate",
        "delivered",
        "error",
        "expired",
        "network_error",
        "stop",
        "npai",
        "total",
    }
)
ANSWER_FIELDS = frozenset(
    {"status", "message", "details", "campaign", "campaigns", "totalRecords", "totalDisplayRecords"}
)


def decode(body: bytes) -> dict[str, Any]:
    """Decode an answer whatever its format (sniffed from the bytes, not trusted headers)."""
    head = body.lstrip()[:1]
    try:
        if head == b"<":
            doc = _xml_value(SafeET.fromstring(body))
        else:
            doc = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, SafeET.ParseError, DefusedXmlException) as exc:
        raise Unreadable(UNREADABLE_BODY, f"body is neither valid JSON nor XML: {exc}") from exc
    except LookupError as exc:  # an XML declaration naming an encoding Python does not have
        raise Unreadable(UNREADABLE_BODY, f"body declares an unknown encoding: {exc}") from exc
    except RecursionError as exc:
        raise Unreadable(UNREADABLE_BODY, "body is nested too deeply to read") from exc
    if not isinstance(doc, dict):
        raise Unreadable(UNKNOWN_SHAPE, f"expected an object, got {type(doc).__name__}")
    return doc


def error_of(doc: dict[str, Any]) -> tuple[int | None, str] | None:
    """``(status, message)`` when the document is an error answer, else None."""
    if "error" in doc and "campaign" not in doc and "campaigns" not in doc:
        return None, fields.reason_text(doc["error"])
    status = doc.get("status")
    try:
        code = (
            None if status is None else int(status if isinstance(status, int) else status.strip())
        )
    except (ValueError, AttributeError):  # not digits (or more than int() converts), not text
        return None, f"unreadable status {fields.shown(status)}"
    if code is not None and code < 0:
        meaning = ERROR_MEANINGS.get(code, "undocumented error")
        message = fields.reason_text(doc.get("message") or meaning)
        details = doc.get("details")
        return code, f"{meaning}: {message}" + (
            f" ({fields.reason_text(details)})" if details else ""
        )
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _list_ids(value: Any) -> tuple[str, ...]:
    ids: list[str] = []
    for entry in _as_list(value):
        if isinstance(entry, dict):
            ids.extend(
                i if isinstance(i, str) else fields.reason_text(i)
                for i in _as_list(entry.get("id"))
            )
        elif isinstance(entry, str | int):
            ids.append(str(entry))
    return tuple(ids)


# Optional numbers: one the vendor spells in a way we cannot read is NULL, not a refusal.
OPTIONAL_NUMBERS = ("cost", "delivery_rate")


def _optional_numbers(
    item: dict[str, Any], campaign_id: str
) -> tuple[dict[str, Any], list[Rejected]]:
    """``cost`` and ``delivery_rate`` as ``Decimal`` (None when missing or unreadable), and a
    note (``unreadable_field``) per unreadable one naming the field and the value."""
    values: dict[str, Any] = {}
    notes: list[Rejected] = []
    for key in OPTIONAL_NUMBERS:
        try:
            values[key] = fields.decimal(item, key)
        except ItemProblem as exc:
            values[key] = None
            reason = f"campaign {campaign_id}: {exc}; loaded as NULL"
            notes.append(
                Rejected(UNREADABLE_FIELD, reason, {"field": key, "value": item[key]}, campaign_id)
            )
    return values, notes


def parse_campaign(item: Any) -> SmsFactorCampaign:
    """One campaign object; raises ``ItemProblem`` when a counter cannot be read."""
    if not isinstance(item, dict):
        raise ItemProblem(f"campaign should be an object, got {type(item).__name__}")
    campaign_id = fields.identifier(item, "id")
    numbers, notes = _optional_numbers(item, campaign_id)
    return SmsFactorCampaign(
        campaign_id=campaign_id,
        sender=fields.text(item, "sender"),
        text=fields.text(item, "text"),
        status=fields.text(item, "status"),
        created_at=fields.paris_timestamp(item, "creation_date"),
        send_date=fields.paris_timestamp(item, "date"),
        cost=numbers["cost"],
        delivery_rate=numbers["delivery_rate"],
        total=fields.integer(item, "total"),
        delivered=fields.integer(item, "delivered"),
        error=fields.integer(item, "error"),
        expired=fields.integer(item, "expired"),
        network_error=fields.integer(item, "network_error"),
        stop=fields.integer(item, "stop"),
        npai=fields.integer(item, "npai"),
        list_ids=_list_ids(item.get("lists")),
        notes=tuple(notes),
    )


def _campaign_id_of(item: Any) -> str | None:
    """The id of a campaign set aside, as text (SMSFactor sends ids as numbers too)."""
    cid = item.get("id") if isinstance(item, dict) else None
    return cid if isinstance(cid, str) or cid is None else fields.reason_text(cid)


def parse_campaigns(doc: dict[str, Any]) -> ParsedBatch[SmsFactorCampaign]:
    """Campaigns from a ``/campaign/{id}`` answer (``campaign``) or ``/campaigns`` (history)."""
    error = error_of(doc)
    if error is not None:
        raise Unreadable(VENDOR_ERROR, f"vendor error {error[0]}: {error[1]}")
    if "campaigns" in doc and "campaign" in doc:
        # Reading either would silently drop what the other lists.
        raise Unreadable(UNKNOWN_SHAPE, "answer has both 'campaign' and 'campaigns'")
    if "campaigns" in doc:
        container = doc["campaigns"]
        # XML wraps history items as <campaigns><campaign>…</campaign></campaigns>.
        if isinstance(container, dict) and set(container) == {"campaign"}:
            container = container["campaign"]
    elif "campaign" in doc:
        container = doc["campaign"]
    else:
        raise Unreadable(UNKNOWN_SHAPE, "answer has neither 'campaign' nor 'campaigns'")
    items = _as_list(container)
    campaigns, rejected = fields.read_each(items, parse_campaign, "campaign", _campaign_id_of)
    notes = fields.unknown_fields([doc], ANSWER_FIELDS, None, "answer")
    notes += fields.unknown_fields(items, CAMPAIGN_FIELDS, None, "campaigns")
    notes += [note for campaign in campaigns for note in campaign.notes]
    return ParsedBatch(campaigns, rejected, notes)


def total_records(doc: dict[str, Any]) -> int | None:
    """The history's ``totalRecords`` when readable (used to stop paging)."""
    try:
        return fields.integer(doc, "totalRecords")
    except ItemProblem:
        return None
