"""Each campaign's facts against the answer they were loaded from (``facts_match_latest_answer``).

The other checks test the facts against the vendors' counting rules; this one tests the
load itself. For a campaign it reads, from ``raw.vendor_response``, the loaded answers
fetched when the campaign was last read, parses them with the vendor's reader, and
compares with what ``sms`` holds:

- Nixflex: the campaign's status and reported counts in ``sms.dim_campaign``, and its
  counted recipients per status in ``sms.fact_recipient_delivery``, equal the answer's
  recipients (each phone once, the first listing kept, as the loader does).
- SMSFactor: the status and counters of the campaign's latest snapshot in
  ``sms.fact_campaign_counters`` equal the answer's.

A late, older answer, a merge that kept a recipient the vendor stopped listing, or a salt
switch that doubled recipients all show here. Parsing a whole answer costs about as much as
loading it, so the check reads a random sample of at most ``sample`` campaigns in scope
and says how many it read. A campaign whose answer was pruned from raw (retention) is
skipped and counted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from pipelines.vendors import nixflex_parse, smsfactor_parse
from pipelines.vendors.records import ItemProblem, Unreadable
from pipelines.warehouse import bodies, sqlfiles

SAMPLE_AFTER_SYNC = 50
SAMPLE_FULL = 500
_COUNTERS = ("total", "delivered", "error", "expired", "network_error", "stop", "npai")


@dataclass
class Reconciliation:
    """What was compared, and each difference as a row naming its campaign."""

    in_scope: int = 0
    compared: int = 0
    without_raw: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.compared + self.without_raw < self.in_scope


def reconcile(engine: Engine, since: datetime | None, sample: int) -> Reconciliation:
    """Compare up to ``sample`` campaigns loaded since ``since`` (None: any) with their answers."""
    result = Reconciliation()
    with engine.connect() as conn:
        conn.execute(text("set transaction read only"))
        picked = conn.execute(
            text(sqlfiles.read("reconcile/campaigns_in_scope.sql")),
            {"since": since, "sample": sample},
        ).all()
        result.in_scope = picked[0].in_scope if picked else 0
        for provider, campaign_id, _ in picked:
            answer = _latest_item(conn, provider, campaign_id)
            if answer is None:
                result.without_raw += 1
                continue
            result.compared += 1
            result.rows += _differences(conn, provider, campaign_id, answer)
        conn.rollback()
    return result


def _latest_item(conn: Connection, provider: str, campaign_id: str) -> Any | None:
    """The campaign as its latest loaded answer gives it (parsed), or None if none is kept."""
    ids = conn.execute(
        text(sqlfiles.read("reconcile/latest_answers.sql")),
        {"provider": provider, "campaign_id": campaign_id},
    ).scalars()
    for response_id in list(ids):
        for item in _items(conn, provider, response_id):
            if item.campaign_id == campaign_id:
                return item
    return None


def _items(conn: Connection, provider: str, response_id: int) -> Iterator[Any]:
    payload, body = bodies.read_back(conn, response_id)
    try:
        if provider == "nixflex":
            doc = payload if payload is not None else json.loads(body or b"null")
            yield nixflex_parse.parse_campaign(doc)
        else:
            doc = payload if payload is not None else smsfactor_parse.decode(body or b"")
            yield from smsfactor_parse.parse_campaigns(doc).items
    except (Unreadable, ItemProblem, ValueError):
        return  # loaded, but nothing of it reads now: the campaign counts as without raw


def _differences(
    conn: Connection, provider: str, campaign_id: str, answer: Any
) -> list[dict[str, Any]]:
    if provider == "nixflex":
        held = conn.execute(
            text(sqlfiles.read("reconcile/nixflex_facts.sql")), {"campaign_id": campaign_id}
        ).one()
        expected = {
            "status": answer.status,
            "reported_total": answer.reported_total,
            "reported_delivered": answer.reported_delivered,
            "reported_failed": answer.reported_failed,
            "reported_pending": answer.reported_pending,
            "recipients_by_status": dict(Counter(r.status for r in answer.recipients)),
        }
        found = {k: held._mapping[k] for k in expected}
    else:
        held = conn.execute(
            text(sqlfiles.read("reconcile/smsfactor_facts.sql")), {"campaign_id": campaign_id}
        ).one_or_none()
        expected = {"status": answer.status} | {k: getattr(answer, k) for k in _COUNTERS}
        found = dict.fromkeys(expected) if held is None else dict(held._mapping)
    return [
        {
            "provider": provider,
            "campaign_id": campaign_id,
            "field": key,
            "in_warehouse": _shown(found.get(key)),
            "in_latest_answer": _shown(value),
        }
        for key, value in expected.items()
        if found.get(key) != value
    ]


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) or "none"
    return "NULL" if value is None else str(value)
