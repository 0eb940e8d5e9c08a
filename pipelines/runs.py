"""Runs whose process is gone: found, failed and made to give their pool slots back.

A run executes in one process: ``make sync`` runs its job in its own process, ``make dev``
in a run worker its code server starts. Killed outright (``kill -9``, the OOM killer, a
stopped container), that process leaves its run STARTED in the instance for good, still
holding the slot of the vendor pool it was polling (limit 1), and every later run waits for
that slot. Dagster's run monitoring cannot tell on its own: the default run launcher has no
run worker health check.

Every run ``make sync`` starts is tagged with its host and process id (``worker_tags``).
``worker_of`` finds a run's process from those tags, or, in an instance stored on this
machine (SQLite under ``DAGSTER_HOME``), from the process id Dagster records in the run's
start event. ``reclaim_stale_runs`` fails the in-progress runs whose process is gone (with a
message saying so) and frees the pool slots of every run that has ended; ``describe_run``
says who a run is, for a message naming the run that holds a pool.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.storage.dagster_run import FINISHED_STATUSES, RunRecord
from dagster._core.storage.runs import SqliteRunStorage

HOST_TAG = "sms_warehouse/host"
PID_TAG = "sms_warehouse/pid"
# The statuses of a run that a process is executing (or about to).
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# A pool's slot claimed for a run that does not exist yet: ``make sync`` claims its pools
# just before its run starts (pipelines/pools.py), which takes a second or two. Older than
# this, the process that claimed it is gone.
UNBORN_GRACE = timedelta(minutes=2)


def worker_tags() -> dict[str, str]:
    """The tags that say which process executes a run: this one."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


@dataclass(frozen=True)
class Worker:
    """The process executing a run, as far as the instance knows it."""

    host: str
    pid: int
    started_by: float  # the process existed at this instant (the run's creation or start)

    def is_alive(self) -> bool | None:
        """Whether the process still exists; None when it runs on another host."""
        if self.host != socket.gethostname():
            return None
        return process_alive(self.pid, self.started_by)

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}"


def process_alive(pid: int, started_by: float) -> bool:
    """Whether process ``pid`` exists on this host and is the one that existed at
    ``started_by`` (a process started later merely reuses the number)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (not Linux): existence is all we can tell
        return True
    state, start = stat
    return state != "Z" and (start is None or start <= started_by + 1.0)


def _proc_stat(pid: int) -> tuple[str, float | None] | None:
    """The process's state letter and its start time (epoch seconds), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, IndexError, StopIteration):
        return None
    # proc(5): field 3 is the state, field 22 the start time in clock ticks after boot.
    return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def worker_of(instance: dg.DagsterInstance, record: RunRecord) -> Worker | None:
    """The process executing the run, when the tags or (local instance) its events say."""
    run = record.dagster_run
    started_by = record.create_timestamp.timestamp()
    if run.tags.get(PID_TAG, "").isdigit() and run.tags.get(HOST_TAG):
        return Worker(run.tags[HOST_TAG], int(run.tags[PID_TAG]), started_by)
    if not _stored_on_this_machine(instance):
        return None
    started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
    event = started[0].dagster_event if started else None
    if event is None or event.pid is None:
        return None
    return Worker(socket.gethostname(), event.pid, started[0].timestamp)


def _stored_on_this_machine(instance: dg.DagsterInstance) -> bool:
    """SQLite files under DAGSTER_HOME: every run in them ran on this machine."""
    return isinstance(instance.run_storage, SqliteRunStorage)


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    """One line naming a run: id, job, status, start time and whether its process lives."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return f"run {run_id} (not started yet: a sync claiming its pools)"
    run = record.dagster_run
    started = record.start_time or record.create_timestamp.timestamp()
    when = datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    worker = worker_of(instance, record)
    if worker is None:
        process = "its process is unknown"
    else:
        alive = worker.is_alive()
        state = "on another host" if alive is None else "still running" if alive else "gone"
        process = f"its {worker} is {state}"
    return f"run {run_id} ({run.job_name}, {run.status.value}, started {when}; {process})"


def reclaim_stale_runs(
    instance: dg.DagsterInstance, say: Callable[[str], None] = print
) -> list[str]:
    """Fail every active run whose process is gone and free the pool slots of every run
    that ended; returns the ids of the runs failed. ``say`` reports each action."""
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=ACTIVE_STATUSES)):
        worker = worker_of(instance, record)
        if worker is None or worker.is_alive() is not False:
            continue
        run = record.dagster_run
        message = (
            f"Marked as failed by a later sync: the {worker} that executed this run is gone "
            "(killed or crashed), so it can never finish; its pool slots are freed."
        )
        instance.report_run_failed(
            run,
            message,
            JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(
            f"Run {run.run_id} ({run.job_name}) was left in progress by a {worker} that is "
            "gone: marked failed, its pool slots freed."
        )
        failed.append(run.run_id)
    _free_slots_of_ended_runs(instance, say)
    return failed


def _free_slots_of_ended_runs(instance: dg.DagsterInstance, say: Callable[[str], None]) -> None:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    enqueued: dict[str, list[datetime]] = {}  # run id -> when it queued for each slot
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        for slot in info.claimed_slots:
            enqueued.setdefault(slot.run_id, [])
        for step in info.pending_steps:
            enqueued.setdefault(step.run_id, []).append(step.enqueued_timestamp)
    now = datetime.now(UTC)
    for run_id, times in enqueued.items():
        record = instance.get_run_record_by_id(run_id)
        if record is None and times and now - min(times) < UNBORN_GRACE:
            continue  # a sync claiming its pools right now
        if record is not None and record.dagster_run.status not in FINISHED_STATUSES:
            continue
        storage.free_concurrency_slots_for_run(run_id)
        status = record.dagster_run.status.value if record else "never started"
        say(f"Freed the pool slots still held by run {run_id} ({status}).")
