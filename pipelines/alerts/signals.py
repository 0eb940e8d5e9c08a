"""What is wrong now, read from the Dagster instance as a sensor sees it.

Signals: an ERROR asset check whose latest evaluation failed (``check_failed``), a WARN
check that failed when the settings list it (``check_warned``), the freshness check
``data_is_fresh`` failing (``stale``), and the latest finished run of a sync job failing
(``run_failed``). Each problem is keyed by (signal, subject, segment): the subject is the
check (``asset/path:check_name``) or the job; a check whose metadata names ``segments``
(e.g. senders) makes one problem per segment, so each segment opens and clears on its own;
one whose metadata lists ``segments_judged`` clears only the segments it could judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (
    COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from pipelines.alerts.problems import Problem, Reading, run_link
from pipelines.alerts.settings import FRESHNESS_CHECK, AlertSettings
from pipelines.alerts.sync_runs import run_signals

HISTORY = 25  # evaluations looked back through to find when a failing streak began
# Metadata a message never carries: example rows (they may hold phone numbers), and what is
# shown otherwise (campaigns, segments).
_NOT_FIGURES = {"examples", "offending_campaigns", "segments", "segments_judged", "sql_file"}


def check_subject(key: dg.AssetCheckKey) -> str:
    return f"{key.asset_key.to_user_string()}:{key.name}"


def check_link(ui_url: str, key: dg.AssetCheckKey) -> str:
    path = "/".join(key.asset_key.path)
    return f"{ui_url}/assets/{path}?view=checks&checkDetail={key.name}"


def signal_of(evaluation: dg.AssetCheckEvaluation, settings: AlertSettings) -> str | None:
    """The signal a failed evaluation raises, or None (passed, or a WARN nobody listed)."""
    if evaluation.passed:
        return None
    if evaluation.severity == dg.AssetCheckSeverity.ERROR:
        return "check_failed"
    if evaluation.check_name not in settings.alerting_warn_checks():
        return None
    return "stale" if evaluation.check_name == FRESHNESS_CHECK else "check_warned"


def read_signals(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], settings: AlertSettings
) -> Reading:
    """Every open problem among ``check_keys`` and the sync jobs' runs. One query finds each
    check's latest execution; only a check whose latest did not pass (or is still running)
    has its history read."""
    reading, storage = Reading(), instance.event_log_storage
    keys = list(check_keys)
    for key, latest in storage.get_latest_asset_check_execution_by_key(keys).items():
        history = [latest]
        if latest.status != AssetCheckExecutionRecordStatus.SUCCEEDED:
            history = storage.get_asset_check_execution_history(
                key, limit=HISTORY, status=COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES
            )
        _read_check(reading, key, list(history), settings)
    for job in settings.sync_jobs:
        run_signals(reading, instance, job, settings.ui_url)
    return reading


def _evaluation(record: AssetCheckExecutionRecord) -> dg.AssetCheckEvaluation | None:
    return record.evaluation if record.event is not None else None


def _read_check(
    reading: Reading,
    key: dg.AssetCheckKey,
    history: list[AssetCheckExecutionRecord],
    settings: AlertSettings,
) -> None:
    latest = _evaluation(history[0]) if history else None
    if latest is None:
        return
    subject, record = check_subject(key), history[0]
    judged = getattr(latest.metadata.get("segments_judged"), "value", None)
    if isinstance(judged, list):
        reading.judged[subject] = frozenset(str(name) for name in judged)
    signal = signal_of(latest, settings)
    when = datetime.fromtimestamp(record.event.timestamp, UTC)  # type: ignore[union-attr]
    if signal is None:
        state = "passed" if latest.passed else f"failed as {latest.severity.value}, not alerting"
        reading.cleared[subject] = f"{state} at {when:%Y-%m-%d %H:%M} UTC (run {record.run_id})"
        return
    since = _streak_start(history, signal, settings) or when
    reading.problems += problems_of(key, latest, signal, record.run_id, since, settings)


def problems_of(
    key: dg.AssetCheckKey,
    evaluation: dg.AssetCheckEvaluation,
    signal: str,
    run_id: str,
    since: datetime,
    settings: AlertSettings,
) -> list[Problem]:
    """The problems a failed evaluation raises: one per segment it names (one if none)."""
    details = _check_details(key, evaluation, run_id, settings.ui_url)
    problems = []
    for segment, figures in _segments(evaluation.metadata).items():
        # A segment that names its own campaigns, or says itself what is wrong, shows
        # those, not the whole check's.
        named = figures.pop("campaigns", None)
        said = figures.pop("said", None)
        seg_details = {
            **details,
            "campaigns": named if isinstance(named, list) else details["campaigns"],
            "description": said if isinstance(said, str) else details["description"],
            "figures": {**details["figures"], **figures},
        }
        problems.append(Problem(signal, check_subject(key), segment, since, seg_details))
    return problems


def _streak_start(
    history: list[AssetCheckExecutionRecord], signal: str, settings: AlertSettings
) -> datetime | None:
    """When the run of evaluations raising ``signal`` that ends with the latest began."""
    start = None
    for record in history:
        evaluation = _evaluation(record)
        if evaluation is None or signal_of(evaluation, settings) != signal:
            break
        start = datetime.fromtimestamp(record.event.timestamp, UTC)  # type: ignore[union-attr]
    return start


def _plain(value: object) -> object:
    """A metadata value as JSON-able text or number."""
    inner = getattr(value, "value", value)
    if isinstance(inner, bool | int | float):
        return inner
    return str(inner)[:300]


def _figure(name: str, value: object) -> object:
    """A segment's figure; its ``campaigns`` stay a list of names, its ``said`` whole."""
    if name == "campaigns" and isinstance(value, list):
        return [str(c) for c in value]
    if name == "said":
        return str(value)[:1000]
    return _plain(value)


def _check_details(
    key: dg.AssetCheckKey, evaluation: dg.AssetCheckEvaluation, run_id: str, ui_url: str
) -> dict[str, Any]:
    metadata = evaluation.metadata
    campaigns = str(getattr(metadata.get("offending_campaigns"), "value", "") or "")
    return {
        "headline": f"{evaluation.severity.value} check {key.name} on "
        f"{key.asset_key.to_user_string()} failed",
        "description": evaluation.description or "",
        "campaigns": [c.strip() for c in campaigns.split(",") if c.strip()],
        "figures": {k: _plain(v) for k, v in metadata.items() if k not in _NOT_FIGURES},
        "run_id": run_id,
        "links": {"check": check_link(ui_url, key), "run": run_link(ui_url, run_id)},
    }


def _segments(metadata: Mapping[str, Any]) -> dict[str, dict[str, object]]:
    """The segments a check names, each with its own figures; ``{"": {}}`` when none.

    ``segments`` is either JSON (a mapping segment → figures, or a list of names) or text
    (names separated by commas)."""
    value = getattr(metadata.get("segments"), "value", None)
    if isinstance(value, Mapping):
        return {
            str(k): {f: _figure(f, v) for f, v in dict(v or {}).items()} for k, v in value.items()
        }
    if isinstance(value, list):
        return {str(name): {} for name in value} or {"": {}}
    names = [n.strip() for n in str(value or "").split(",") if n.strip()]
    return {name: {} for name in names} or {"": {}}
