"""The alerts a run's check results would send, rendered without sending or recording
anything (``make demo`` prints them; with ``ALERT_URLS`` set, the sensor sends them)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import dagster as dg

from pipelines.alerts.incidents import OPENED, Incident
from pipelines.alerts.messages import Message, render
from pipelines.alerts.settings import AlertSettings
from pipelines.alerts.signals import problems_of, signal_of


def would_send(
    evaluations: Iterable[dg.AssetCheckEvaluation],
    run_id: str,
    now: datetime,
    settings: AlertSettings,
    secrets: Iterable[str] = (),
) -> list[Message]:
    """The "opened" message of each problem the run's evaluations raise (incident 0: none
    is recorded)."""
    messages = []
    for evaluation in evaluations:
        signal = signal_of(evaluation, settings)
        if signal is None:
            continue
        key = dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name)
        for p in problems_of(key, evaluation, signal, run_id, now, settings):
            incident = Incident(
                incident_id=0,
                signal=p.signal,
                subject=p.subject,
                segment=p.segment,
                opened_at=now,
                detected_at=now,
                details=p.details,
                alerts_sent=0,
                last_alerted_at=None,
                resolved_at=None,
                resolution=None,
                resolution_sent_at=None,
            )
            messages.append(render(incident, OPENED, now, secrets))
    return messages
