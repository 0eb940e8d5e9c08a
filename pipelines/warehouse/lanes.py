"""Which pending answers load in which order, and how many load side by side.

Pending answers are split into *lanes*: one per Nixflex campaign for its details (so a
campaign's answers load one after the other, oldest first, exactly as a single loader
would), and one lane for every other answer (SMSFactor pages span many campaigns). Lanes
are independent, so they load side by side.

Side by side means processes, not threads: loading is CPU work in Python (decoding, rows
for COPY) as much as in Postgres, and threads would share one interpreter lock. A large
load (a backfill, a forced refresh) starts helper processes (``multiprocessing`` with
*spawn*, from the standard library) that take lanes from the same list as this process,
which starts loading at once instead of waiting for them; a small load, the usual poll,
stays in this process, since a helper costs about 0.4 s to start. Each answer is still one
transaction with ``FOR UPDATE SKIP LOCKED``, so any mix of loaders loads each answer once.

One load at a time per warehouse: ``load_pending`` holds an advisory lock for its whole
run, so two syncs started together (two schedules, a manual run, a replay) load one after
the other instead of racing over the same campaigns; the second finds what the first
left, usually nothing. The lock is a session lock: a loader that dies releases it with its
connection.

As with any *spawn* helper, a helper imports the program's main module again: Dagster's
processes, ``python -m pipelines.cli`` and pytest are fine; a script of your own that calls
``load_pending`` for a large load needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, Row, text
from sqlalchemy.exc import DBAPIError, OperationalError

from pipelines.warehouse import sqlfiles
from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.loader import (
    SETTLE_WINDOW,
    LoadOptions,
    LoadStats,
    load_answers,
    record_unchanged,
)
from pipelines.warehouse.partitions import ensure_partitions
from pipelines.warehouse.privacy import AS_RECEIVED, Privacy
from pipelines.warehouse.pseudonymise import bring_to_setting

# Below this many stored bytes of pending answers a helper process costs more than it saves
# (bench-load: a helper starts in ~0.4 s; 2 MB of stored Nixflex answers, compressed about
# 8x, is ~70 k recipients, about 0.5 s of loading).
PARALLEL_FROM_BYTES = 2 * 2**20
MAX_PROCESSES = 4  # each loader keeps about one core busy, its own and its backend's


LOAD_LOCK_KEY = 0x534D_5357_4C4F_4144  # "SMSWLOAD": the advisory lock of loads
LOAD_LOCK_WAIT = "15min"  # a load waiting longer than this for another one fails, saying so


class LoadBusy(RuntimeError):
    """Another load held the warehouse for longer than ``LOAD_LOCK_WAIT``."""


@contextmanager
def one_load_at_a_time(
    engine: Engine, progress: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the warehouse's load lock for the block, waiting for another load to finish."""
    # Autocommit: a session lock needs no transaction, and an open one for the whole load
    # would hold back vacuum.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        key = {"key": LOAD_LOCK_KEY}
        if not conn.execute(text("select pg_try_advisory_lock(:key)"), key).scalar_one():
            if progress:
                progress("another load is running on this warehouse: waiting for it to finish")
            conn.execute(text(f"set lock_timeout = '{LOAD_LOCK_WAIT}'"))
            try:
                conn.execute(text("select pg_advisory_lock(:key)"), key)
            except OperationalError as exc:
                raise LoadBusy(
                    f"another load has held the warehouse for over {LOAD_LOCK_WAIT}; "
                    "see pg_stat_activity for the session holding advisory lock "
                    f"{LOAD_LOCK_KEY}"
                ) from exc
            conn.execute(text("reset lock_timeout"))
        try:
            yield
        finally:
            try:
                conn.execute(text("select pg_advisory_unlock(:key)"), key)
            except DBAPIError:
                conn.invalidate()  # never hand a connection that may hold the lock back


def default_processes() -> int:
    """Loaders side by side for a large load: one per core, at most ``MAX_PROCESSES``."""
    return max(1, min(os.cpu_count() or 1, MAX_PROCESSES))


def load_pending(
    engine: Engine,
    provider: str | None = None,
    progress: Callable[[str], None] | None = None,
    settle_window: timedelta = SETTLE_WINDOW,
    processes: int | None = None,
    exclusive: bool = True,
    privacy: Privacy = AS_RECEIVED,
) -> LoadStats:
    """Load every pending answer (of one provider, or all), in lanes (see the module).

    ``settle_window``: how long after its last message a final campaign still gets receipts
    (it sets ``settles_at`` in ``sms.campaign_poll_state``). ``processes``: loaders side by
    side for a large load (default: ``default_processes()``; 1 keeps everything here).
    ``progress`` gets a line every 50 answers and at the end. ``exclusive=False`` is for a
    caller that already holds ``one_load_at_a_time``. ``privacy``: how recipients are
    written (``pipelines.warehouse.privacy``); rows already loaded under another setting are
    rewritten to it first (``pipelines.warehouse.pseudonymise``).
    """
    options = LoadOptions(settle_window, privacy)
    if exclusive:
        with one_load_at_a_time(engine, progress):
            return _load_pending(engine, provider, progress, options, processes)
    return _load_pending(engine, provider, progress, options, processes)


def _load_pending(
    engine: Engine,
    provider: str | None,
    progress: Callable[[str], None] | None,
    options: LoadOptions,
    processes: int | None,
) -> LoadStats:
    total = _prepare_load(engine, provider, progress, options)
    with engine.connect() as conn:
        pending = conn.execute(
            text(sqlfiles.read("load/pending_answers.sql")), {"provider": provider}
        ).all()
    plan = _plan_lanes(pending, processes)
    if progress and total.responses_unchanged:
        progress(f"{total.responses_unchanged} answers unchanged since the last load: recorded")
    if progress and pending:
        loaders = f"{plan.helpers + 1} processes" if plan.helpers else "1 process"
        progress(f"loading {len(pending)} answers: {len(plan.todo)} lanes, {loaders}")
    lanes = _LaneQueue(plan.todo, total, len(pending) + total.responses_loaded, progress)

    def here(lane: list[int]) -> LoadStats:
        return load_answers(engine, lane, options)

    if plan.helpers:
        _load_with_helpers(engine, lanes, plan.helpers, options, here)
    else:
        lanes.run(here)
    return total


def _prepare_load(
    engine: Engine,
    provider: str | None,
    progress: Callable[[str], None] | None,
    options: LoadOptions,
) -> LoadStats:
    """Bring what sms already holds to the privacy setting, make the month partitions ahead
    of time and record the unchanged answers at once; the load's stats so far."""
    bring_to_setting(engine, options.privacy, progress)
    made = ensure_partitions(engine)
    if made and progress:
        progress(f"made {made} month partitions ahead of time")
    return record_unchanged(engine, provider)


@dataclass(frozen=True)
class _LanePlan:
    """The lanes to load, longest first, and how many helper processes load beside this one."""

    todo: deque[list[int]]
    helpers: int


def _plan_lanes(pending: Sequence[Row[Any]], processes: int | None) -> _LanePlan:
    """One lane per Nixflex campaign's details, one for every other answer; helpers only for
    a large load, never more loaders than lanes."""
    lanes: dict[str, list[int]] = {}
    for row in pending:
        per_campaign = row.provider == "nixflex" and row.endpoint == "campaign.get"
        lane = f"nixflex:{row.campaign_id}" if per_campaign else ""
        lanes.setdefault(lane, []).append(row.response_id)
    # Longest lanes first, so that no long lane is left running alone at the end.
    todo = deque(sorted(lanes.values(), key=len, reverse=True))
    wanted = default_processes() if processes is None else max(1, processes)
    large = sum(row.body_bytes or 0 for row in pending) >= PARALLEL_FROM_BYTES
    helpers = min(wanted, len(todo)) - 1 if large else 0
    return _LanePlan(todo, helpers)


@dataclass
class _LaneQueue:
    """The lanes left to load and the load's running stats, shared by every loader thread;
    ``progress`` gets a line every 50 answers and once ``expected`` are done."""

    todo: deque[list[int]]
    total: LoadStats
    expected: int
    progress: Callable[[str], None] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    failed: threading.Event = field(default_factory=threading.Event)

    def take(self) -> list[int] | None:
        try:
            return None if self.failed.is_set() else self.todo.popleft()  # deque: thread-safe
        except IndexError:
            return None

    def record(self, stats: LoadStats) -> None:
        total = self.total
        with self.lock:
            before = total.responses_loaded + total.responses_quarantined
            total.add(stats)
            done = total.responses_loaded + total.responses_quarantined
            if self.progress and (done // 50 > before // 50 or done == self.expected):
                self.progress(
                    f"loaded {done}/{self.expected} answers ({total.campaigns} campaigns, "
                    f"{total.recipients_seen:,} recipients, "
                    f"{total.recipient_changes:,} recipient changes)"
                )

    def run(self, load: Callable[[list[int]], LoadStats]) -> None:
        """Load lanes until none is left or a loader failed."""
        try:
            while (lane := self.take()) is not None:
                self.record(load(lane))
        except BaseException:
            self.failed.set()  # the others finish the answer they hold, then stop
            raise


def _load_with_helpers(
    engine: Engine,
    lanes: _LaneQueue,
    helpers: int,
    options: LoadOptions,
    here: Callable[[list[int]], LoadStats],
) -> None:
    """Load the lanes here and in ``helpers`` helper processes, each fed by a thread."""
    url = engine.url.render_as_string(hide_password=False)  # to the helpers only, by pipe
    pool = ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("spawn"))

    def there(lane: list[int]) -> LoadStats:
        return pool.submit(_load_in_helper, url, lane, options).result()

    try:
        with ThreadPoolExecutor(helpers, thread_name_prefix="load-helper") as feeders:
            fed = [feeders.submit(lanes.run, there) for _ in range(helpers)]
            lanes.run(here)
            for feeder in fed:
                feeder.result()  # a helper's error is raised here, once every lane stopped
    finally:
        # No lane is left running; the helpers close their connections and exit on their
        # own (waiting for that would add ~0.1 s to every large load).
        pool.shutdown(wait=False)


def _load_in_helper(url: str, lane: list[int], options: LoadOptions) -> LoadStats:
    """One lane, in a helper process (one engine per process, reused across lanes)."""
    return load_answers(get_engine(url), lane, options)
