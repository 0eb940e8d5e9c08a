"""One incident's message: what failed, since when, which campaigns or segments, the
figures, and links to the run and the check in the Dagster UI. Plain text for chat and
e-mail, and the same as JSON fields for a webhook. Secrets and phone numbers are scrubbed
from every part (``redact``); example rows, which may hold phone numbers, are never shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.alerts.incidents import OPENED, REMINDER, RESOLVED, Incident
from pipelines.alerts.redact import scrub

PRODUCT = "SMS warehouse"
MAX_CAMPAIGNS = 20
_LABEL = {OPENED: "ALERT", REMINDER: "STILL FAILING", RESOLVED: "RESOLVED"}


@dataclass(frozen=True)
class Message:
    """``kind``: opened, reminder, resolved or test. ``failure``: whether it reports a
    problem (chat services colour it)."""

    kind: str
    title: str
    body: str
    payload: dict[str, Any]

    @property
    def failure(self) -> bool:
        return self.kind in (OPENED, REMINDER)


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _lasted(start: datetime, end: datetime) -> str:
    minutes = max(0, int((end - start).total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _campaign_line(campaigns: list[str]) -> str:
    shown = ", ".join(campaigns[:MAX_CAMPAIGNS])
    more = len(campaigns) - MAX_CAMPAIGNS
    return shown + (f" and {more} more" if more > 0 else "")


def _lines(incident: Incident, kind: str, now: datetime) -> list[str]:
    d, lines = incident.details, []
    if kind == RESOLVED:
        lines.append(f"Resolved: {incident.resolution}")
        lines.append(f"Lasted {_lasted(incident.opened_at, incident.resolved_at or now)}")
    numbered = f" (incident {incident.incident_id})" if incident.incident_id else ""
    lines.append(f"Since: {_utc(incident.opened_at)}{numbered}")
    if incident.segment:
        lines.append(f"Segment: {incident.segment}")
    if d.get("campaigns"):
        # A check names provider:campaign_id, or the provider alone (e.g. a stale vendor).
        label = "Campaigns" if all(":" in c for c in d["campaigns"]) else "Named"
        lines.append(f"{label} ({len(d['campaigns'])}): {_campaign_line(d['campaigns'])}")
    if d.get("description"):
        lines.append(f"Said: {d['description']}")
    figures = ", ".join(f"{k}={v}" for k, v in (d.get("figures") or {}).items())
    if figures:
        lines.append(f"Figures: {figures}")
    lines += [f"{name.capitalize()}: {url}" for name, url in (d.get("links") or {}).items()]
    return lines


def render(incident: Incident, kind: str, now: datetime, secrets: Iterable[str]) -> Message:
    """The ``kind`` message (opened, reminder, resolved) of ``incident``."""
    secrets = set(secrets)
    title = f"[{PRODUCT}] {_LABEL[kind]}: {incident.details.get('headline', incident.subject)}"
    if incident.segment:
        title += f" ({incident.segment})"
    body = "\n".join(_lines(incident, kind, now))
    payload = {
        "text": f"{title}\n{body}",
        "title": title,
        "message": body,
        "event": kind,
        "incident_id": incident.incident_id,
        "signal": incident.signal,
        "subject": incident.subject,
        "segment": incident.segment,
        "since": _iso(incident.opened_at),
        "resolved_at": _iso(incident.resolved_at),
        "resolution": incident.resolution,
        **{k: incident.details.get(k) for k in ("description", "campaigns", "figures")},
        "links": incident.details.get("links") or {},
    }
    return Message(kind, scrub(title, secrets), scrub(body, secrets), _scrubbed(payload, secrets))


def _scrubbed(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {k: _scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, secrets) for v in value]
    return value


def probe_message(now: datetime) -> Message:
    """What ``--test`` sends: says it is a test, and nothing else."""
    title = f"[{PRODUCT}] test message"
    body = f"A test of this alert destination, sent {_utc(now)}. Nothing is wrong."
    payload = {"text": f"{title}\n{body}", "title": title, "message": body, "event": "test"}
    return Message("test", title, body, payload)
