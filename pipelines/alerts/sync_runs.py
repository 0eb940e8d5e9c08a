"""The ``run_failed`` signal: the latest finished run of a sync job failed.

Runs that ended SUCCESS or FAILURE count (a cancelled run is someone's decision, not a
fault). A run that failed only because blocking checks failed did its work: those checks
are incidents of their own, so the run is not one more. The problem lasts until a later run
of the same job does its work.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster._core.storage.dagster_run import RunRecord

from pipelines.alerts.problems import Problem, Reading, run_link

HISTORY = 25  # runs looked back through to find when a failing streak began
_CHECK_FAILED = "DagsterAssetCheckFailedError"
_ENDED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]


def _when(record: RunRecord) -> datetime:
    stamp = record.start_time or record.create_timestamp.timestamp()
    return datetime.fromtimestamp(stamp, UTC)


def run_signals(reading: Reading, instance: dg.DagsterInstance, job: str, ui_url: str) -> None:
    """Adds the job's failure to ``reading`` (or says how it cleared)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=job, statuses=_ENDED), limit=HISTORY
    )
    if not records:
        return
    streak = _leading_failures(instance, records)
    if not streak:
        latest = records[0]
        ok = latest.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        how = "succeeded" if ok else "ran (only blocking checks failed)"
        when = f"{_when(latest):%Y-%m-%d %H:%M} UTC"
        reading.cleared[job] = f"run {latest.dagster_run.run_id} {how} at {when}"
        return
    run_id = streak[0].dagster_run.run_id
    details = {
        "headline": f"sync run of {job} failed",
        "description": _failure_text(instance, run_id),
        "campaigns": [],
        "figures": {"failed_runs_in_a_row": len(streak)},
        "run_id": run_id,
        "links": {"run": run_link(ui_url, run_id)},
    }
    reading.problems.append(Problem("run_failed", job, "", _when(streak[-1]), details))


def _leading_failures(instance: dg.DagsterInstance, records: list[RunRecord]) -> list[RunRecord]:
    """The failed runs, newest first, since the latest run that did its work."""
    streak = []
    for record in records:
        if _did_its_work(instance, record):
            break
        streak.append(record)
    return streak


def _did_its_work(instance: dg.DagsterInstance, record: RunRecord) -> bool:
    """Succeeded, or failed only because blocking checks failed (incidents of their own)."""
    if record.dagster_run.status == dg.DagsterRunStatus.SUCCESS:
        return True
    errors = [
        entry.dagster_event.step_failure_data.error
        for entry in instance.all_logs(
            record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
        )
        if entry.dagster_event
    ]
    return bool(errors) and all(e is not None and e.cls_name == _CHECK_FAILED for e in errors)


def _first_line(text: Any) -> str:
    line = str(text or "").strip().splitlines()
    return re.sub(r"^[A-Za-z_][\w.]*: ", "", line[0])[:300] if line else ""


def _error_text(error: Any) -> str:
    """The error's own first line, under Dagster's "Error occurred while…" wrapping."""
    while getattr(error, "cause", None) is not None and "Error occurred while" in str(
        getattr(error, "message", "")
    ):
        error = error.cause
    return _first_line(getattr(error, "message", error))


def _failure_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """Each failed step with the first line of its error, else the run's failure message."""
    steps = [
        f"{entry.step_key}: {_error_text(entry.dagster_event.step_failure_data.error)}"
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        if entry.dagster_event and entry.dagster_event.step_failure_data.error
    ]
    if steps:
        return "; ".join(steps[:5])
    failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return _first_line(failures[-1].message) if failures else "the run failed"
