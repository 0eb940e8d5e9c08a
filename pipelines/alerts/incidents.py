"""Incidents, kept in the warehouse (``meta.alert_incident``): one per problem from when an
evaluation finds it open until one finds it cleared, with what was alerted and when. Every
decision reads the table, so a restarted process neither repeats nor loses an alert.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from pipelines.alerts.problems import Problem, Reading
from pipelines.warehouse import sqlfiles

_LOCK_KEY = 0x5_4D_53_41  # "SMSA": one advisory lock id for alert evaluations
OPENED, REMINDER, RESOLVED = "opened", "reminder", "resolved"


@dataclass(frozen=True)
class Incident:
    incident_id: int
    signal: str
    subject: str
    segment: str
    opened_at: datetime
    detected_at: datetime
    details: dict[str, Any]
    alerts_sent: int
    last_alerted_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    resolution_sent_at: datetime | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.signal, self.subject, self.segment)


def _sql(name: str) -> Any:
    return text(sqlfiles.read(f"alerts/{name}.sql"))


@contextmanager
def evaluation_lock(engine: Engine) -> Iterator[bool]:
    """Holds the alert evaluations' lock for the block; yields False (and holds nothing)
    when another evaluation has it."""
    with engine.connect() as conn:
        got = bool(conn.execute(_sql("try_lock"), {"lock_key": _LOCK_KEY}).scalar_one())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(_sql("unlock"), {"lock_key": _LOCK_KEY})
                conn.commit()


def unsettled(engine: Engine) -> list[Incident]:
    """Open incidents, and resolved ones whose resolved message is still due."""
    with engine.connect() as conn:
        return [Incident(**row) for row in conn.execute(_sql("unsettled_incidents")).mappings()]


def record_problems(engine: Engine, problems: Iterable[Problem], now: datetime) -> int:
    """Opens an incident per new problem and refreshes the details of open ones; how many
    incidents it opened."""
    opened = 0
    with engine.begin() as conn:
        for p in problems:
            params = {"signal": p.signal, "subject": p.subject, "segment": p.segment}
            params |= {"opened_at": p.since, "now": now, "details": json.dumps(p.details)}
            row = conn.execute(_sql("open_incident"), params).one_or_none()
            opened += bool(row is not None and row.incident_is_new)
    return opened


def resolve_cleared(
    engine: Engine, incidents: Iterable[Incident], reading: Reading, now: datetime
) -> int:
    """Resolves the open incidents whose problem the reading no longer has (for a check that
    lists the segments it judged, only among those); how many."""
    still = {p.key for p in reading.problems}
    failing = {p.subject for p in reading.problems}
    resolved = 0
    with engine.begin() as conn:
        for incident in incidents:
            if incident.resolved_at is not None or incident.key in still:
                continue
            judged = reading.judged.get(incident.subject)
            if judged is not None and incident.segment not in judged:
                continue  # the check could not judge this segment now: no news
            how = reading.cleared.get(incident.subject, "no longer reported as failing")
            if incident.subject in failing:
                how = "the check's latest evaluation no longer names this segment"
            params = {"incident_id": incident.incident_id, "now": now, "resolution": how}
            resolved += conn.execute(_sql("resolve_incident"), params).rowcount
    return resolved


def due(incidents: Iterable[Incident], now: datetime, remind_every: timedelta) -> list[tuple]:
    """(incident, kind) for each message due now: ``opened`` (never alerted), ``reminder``
    (last alerted ``remind_every`` ago or more), ``resolved`` (cleared, not said yet)."""
    found: list[tuple[Incident, str]] = []
    for incident in incidents:
        if incident.resolved_at is not None:
            if incident.resolution_sent_at is None:
                found.append((incident, RESOLVED))
        elif incident.last_alerted_at is None:
            found.append((incident, OPENED))
        elif now - incident.last_alerted_at >= remind_every:
            found.append((incident, REMINDER))
    return found


def record_sent(engine: Engine, incident: Incident, kind: str, now: datetime) -> None:
    """A destination accepted the ``kind`` message of ``incident``."""
    statement = "record_resolution_sent" if kind == RESOLVED else "record_alert"
    with engine.begin() as conn:
        conn.execute(_sql(statement), {"incident_id": incident.incident_id, "now": now})
