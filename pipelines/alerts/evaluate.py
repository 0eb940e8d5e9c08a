"""One alert evaluation, the same for the sensor and ``python -m pipelines.alerts``: read the
signals, open and resolve incidents in the warehouse, send what is due, record what went.

A message counts as sent when at least one destination accepted it; when none did, it is
due again at the next evaluation. A destination that failed is not tried again for the
rest of this evaluation (so a hanging one costs its timeout once, not once per message).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg
from sqlalchemy import Engine

from pipelines import clock
from pipelines.alerts import delivery
from pipelines.alerts.incidents import due as due_messages
from pipelines.alerts.incidents import (
    evaluation_lock,
    record_problems,
    record_sent,
    resolve_cleared,
    unsettled,
)
from pipelines.alerts.messages import Message, probe_message, render
from pipelines.alerts.redact import environment_secrets, url_secrets
from pipelines.alerts.settings import AlertSettings
from pipelines.alerts.signals import read_signals

NOT_CONFIGURED = "alerts are not configured: ALERT_URLS is not set"


@dataclass
class Sent:
    incident_id: int
    kind: str
    outcomes: list[delivery.Outcome]

    @property
    def accepted(self) -> bool:
        return any(o.ok for o in self.outcomes)


@dataclass
class Report:
    """What one evaluation did; ``summary()`` is what the sensor and the command show."""

    skipped: str = ""
    open_incidents: int = 0
    opened: int = 0
    resolved: int = 0
    sent: list[Sent] = field(default_factory=list)

    def failures(self) -> list[str]:
        return sorted(
            {f"{o.destination}: {o.detail}" for s in self.sent for o in s.outcomes if not o.ok}
        )

    def summary(self) -> str:
        if self.skipped:
            return self.skipped
        said = [f"{self.open_incidents} open incident(s)"]
        said += [
            f"{s.kind} #{s.incident_id}" + ("" if s.accepted else " (no destination took it)")
            for s in self.sent
        ]
        if not self.sent:
            said.append("nothing due")
        text = "; ".join(said)
        failed = self.failures()
        return text + (f". Failed: {'; '.join(failed)}" if failed else "")


def secrets_of(settings: AlertSettings) -> set[str]:
    """Everything a message or log line must not show."""
    return environment_secrets() | {s for url in settings.urls for s in url_secrets(url)}


def evaluate(
    engine: Engine,
    instance: dg.DagsterInstance,
    check_keys: Iterable[dg.AssetCheckKey],
    settings: AlertSettings,
    now: datetime | None = None,
) -> Report:
    """One evaluation; never raises for a destination that fails."""
    if not settings.configured:
        return Report(skipped=NOT_CONFIGURED)
    now = now or clock.utcnow()
    secrets = secrets_of(settings)
    with delivery.guarded_logs(secrets), evaluation_lock(engine) as locked:
        if not locked:
            return Report(skipped="another alert evaluation is running; nothing done")
        report = Report()
        reading = read_signals(instance, list(check_keys), settings)
        report.opened = record_problems(engine, reading.problems, now)
        report.resolved = resolve_cleared(engine, unsettled(engine), reading, now)
        incidents = unsettled(engine)
        report.open_incidents = sum(i.resolved_at is None for i in incidents)
        targets = delivery.destinations(settings)
        for incident, kind in due_messages(incidents, now, settings.remind_every):
            sent = _deliver(targets, render(incident, kind, now, secrets), settings)
            report.sent.append(Sent(incident.incident_id, kind, sent))
            if any(o.ok for o in sent):
                record_sent(engine, incident, kind, now)
    return report


def _deliver(
    targets: list[delivery.Destination], message: Message, settings: AlertSettings
) -> list[delivery.Outcome]:
    """Sends to the destinations that have not failed yet in this evaluation; drops the
    ones that fail now from ``targets``."""
    outcomes = delivery.send(list(targets), message, settings)
    for destination, outcome in zip(list(targets), outcomes, strict=True):
        if not outcome.ok:
            targets.remove(destination)
    return outcomes


def send_test(settings: AlertSettings) -> list[delivery.Outcome]:
    """A test message to every destination; which answered."""
    with delivery.guarded_logs(secrets_of(settings)):
        targets = delivery.destinations(settings)
        return delivery.send(targets, probe_message(clock.utcnow()), settings)
