"""Setting aside what cannot be loaded: a whole answer, or items of an answer that loaded.

Whatever the vendor sent, what is written here must be storable: Postgres refuses NUL
characters and lone surrogates in text, and NaN or Infinity in ``jsonb``, and a refusal here
would stop the load. So reasons and items are made storable first (the odd characters
spelled out, as ``\\x00`` or ``\\ud800``), and the answer's raw bytes keep the original.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, text

from pipelines.vendors.fields import ShortRepr
from pipelines.vendors.records import UNREADABLE_BODY, Rejected
from pipelines.warehouse import sqlfiles

log = logging.getLogger(__name__)


class Answer(Protocol):
    """The landed answer being loaded (``loader._Landed``)."""

    response_id: int
    provider: str
    endpoint: str
    campaign_id: str | None
    fetched_at: datetime


def storable_text(value: str) -> str:
    """``value`` with what a Postgres text cannot hold spelled out instead."""
    if value.isascii():
        return value.replace("\x00", "\\x00")
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


# What is left of an item below 200 levels: as text, itself cut at 50 levels (repr would
# recurse as deep as the item goes, and raise RecursionError).
_DEEP_REST = ShortRepr(levels=50, width=1_000, items=100).repr


def _storable(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # jsonb has no NaN or Infinity
    if depth > 200:  # an item this deep is kept as text, not as nested jsonb
        return storable_text(_DEEP_REST(value)[:10_000])
    if isinstance(value, dict):
        return {storable_text(str(k)): _storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v, depth + 1) for v in value]
    return value


def storable_json(value: Any) -> str:
    """An item as ``jsonb`` text that Postgres accepts, whatever it holds."""
    return json.dumps(_storable(value), default=lambda v: storable_text(str(v)))


def quarantine_response(conn: Connection, answer: Answer, kind: str, reason: str) -> None:
    """Set the whole answer aside (``load_status`` quarantined) with its reason. A campaign
    detail that could not be read is fetched again by the next sync."""
    reason = storable_text(reason)
    conn.execute(
        text(sqlfiles.read("quarantine/insert_answer.sql")),
        {"id": answer.response_id, "kind": kind, "reason": reason},
    )
    conn.execute(
        text(sqlfiles.read("quarantine/mark_quarantined.sql")),
        {"id": answer.response_id, "reason": f"{kind}: {reason}"},
    )
    if kind == UNREADABLE_BODY and answer.endpoint == "campaign.get" and answer.campaign_id:
        conn.execute(
            text(sqlfiles.read("load/refetch_campaign.sql")),
            {
                "provider": answer.provider,
                "campaign_id": answer.campaign_id,
                "at": answer.fetched_at,
            },
        )
    log.warning(
        "quarantined %s answer %d: %s: %s", answer.provider, answer.response_id, kind, reason
    )


def quarantine_items(conn: Connection, answer: Answer, items: Iterable[Rejected]) -> None:
    """Keep the items set aside from (or noted about) an answer that loaded."""
    rows = [
        {
            "id": answer.response_id,
            "provider": answer.provider,
            "campaign_id": None if r.campaign_id is None else storable_text(r.campaign_id),
            "kind": r.kind,
            "reason": storable_text(r.reason),
            "item": storable_json(r.item),
        }
        for r in items
    ]
    if rows:
        conn.execute(text(sqlfiles.read("quarantine/insert_item.sql")), rows)
