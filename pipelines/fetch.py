"""Poll one vendor account incrementally and land every answer raw (plain Python; the assets
call this). What is read and fetched, and the staleness bound it keeps, are stated in
``pipelines.polling.policy``.

Nixflex: the open statuses' lists and the list newest first are read; each listed campaign's
detail is fetched only when the policy says so (new, changed summary, refresh, re-check due),
on a pool of threads that share the key's rate limiter. SMSFactor: the history of the
settle window, newest send date first (up to 1,000 campaigns a call, counters included).
Watched campaigns no page showed are fetched directly.

Every answer is landed as it arrives, error answers included, and the campaign's poll state
is updated in the same transaction: a fetch that fails leaves the campaign due, so the next
cycle tries again and nothing is lost. A refused key stops that account at once; a campaign
that vanished or keeps failing is recorded and the sync goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from pipelines import clock
from pipelines.polling import state
from pipelines.polling.policy import (
    OPEN_STATUSES,
    REFRESH,
    Known,
    PollingPolicy,
    can_stop_by_creation,
    can_stop_by_send_date,
    fingerprint,
    full_pass_due,
    horizon,
    reason_to_fetch,
    reason_to_revisit,
    window_start,
)
from pipelines.vendors.errors import VendorAuthError, VendorError, VendorNotFound
from pipelines.vendors.nixflex_client import ListPage, NixflexClient
from pipelines.vendors.raw import RawResponse
from pipelines.vendors.smsfactor_client import HistoryPage, SmsFactorClient
from pipelines.vendors.transport import VendorClient
from pipelines.warehouse.landing import land, land_now

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
Getter = Callable[[str], RawResponse]


@dataclass
class FetchReport:
    """What one poll of one vendor account did. ``fatal``: the account could not be read."""

    provider: str
    account: str = "default"
    responses_landed: int = 0
    pages_read: int = 0
    campaigns_listed: int = 0
    campaigns_fetched: int = 0
    fetch_reasons: Counter[str] = field(default_factory=Counter)
    skipped_settled: int = 0
    skipped_unchanged: int = 0
    stopped_early: bool = False
    full_pass: bool = False  # this sync read the whole list
    throttled: int = 0  # 429s waited out and retried
    problems: list[str] = field(default_factory=list)
    fatal: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.fatal is None and not self.problems

    @property
    def label(self) -> str:
        return f"{self.provider}[{self.account}]"

    def summary(self) -> str:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.fetch_reasons.items())) or "none"
        scope = " (whole list)" if self.full_pass else ""
        return (
            f"{self.label}: {self.pages_read} page(s) read{scope}"
            f"{' (stopped early)' if self.stopped_early else ''}, "
            f"{self.campaigns_listed} campaign(s) listed, {self.campaigns_fetched} fetched "
            f"({reasons}), {self.skipped_unchanged} unchanged and {self.skipped_settled} "
            f"settled skipped, {self.throttled} 429(s) waited out, {len(self.problems)} "
            f"problem(s) in {self.seconds:.1f}s"
        )


class AccountPoll:
    """One account's poll under way: its report (behind a lock, the detail threads share
    it), the campaigns it watches and has seen, and the landing helpers."""

    def __init__(
        self,
        client: VendorClient,
        engine: Engine,
        policy: PollingPolicy,
        run_id: str | None,
        progress: Progress,
    ) -> None:
        self.provider, self.account, self.engine = client.provider, client.account, engine
        self.limiter = client.limiter
        self.throttled_before = self.limiter.throttled if self.limiter else 0
        self.policy, self.run_id, self.progress = policy, run_id, progress
        self.report = FetchReport(self.provider, self.account)
        self.lock = threading.Lock()
        self.now = clock.utcnow()
        self.started = time.monotonic()
        self.created: list[float] | None = None  # -created_at of known campaigns, ascending
        self.seen: set[str] = set()  # campaigns a page of this poll showed
        self.watched, self.full = self.read_watched()

    def land_error(self, exc: VendorError) -> None:
        if exc.response is not None:
            # The client refused it as an error (SMSFactor's in-body errors on HTTP 200 too).
            land_now(self.engine, exc.response, self.run_id, vendor_ok=False)
            with self.lock:
                self.report.responses_landed += 1

    def land_page(
        self, raw: RawResponse, listed: Iterable[tuple[str, datetime | None]], polled: bool
    ) -> None:
        """Land a list/history page and note the campaigns it showed, in one transaction."""
        listed = list(listed)
        with self.engine.begin() as conn:
            land(conn, raw, self.run_id)
            state.record_listed(conn, self.provider, self.account, listed, raw.fetched_at)
            if polled:  # a history row carries the campaign's counters: that is a poll
                ids = [cid for cid, _ in listed]
                state.record_polled(conn, self.provider, self.account, ids, raw.fetched_at)
        with self.lock:
            self.report.responses_landed += 1
            self.report.pages_read += 1

    def land_campaign(self, raw: RawResponse, campaign_id: str, summary_hash: str | None) -> None:
        with self.engine.begin() as conn:
            land(conn, raw, self.run_id)
            state.record_polled(
                conn, self.provider, self.account, [campaign_id], raw.fetched_at, summary_hash
            )
        with self.lock:
            self.report.responses_landed += 1
            self.report.campaigns_fetched += 1

    def fetch_one(self, get: Getter, campaign_id: str, summary_hash: str | None) -> None:
        """Fetch and land one campaign; raise ``VendorAuthError`` when the key is refused."""
        try:
            raw = get(campaign_id)
        except VendorAuthError as exc:
            self.land_error(exc)
            raise
        except VendorNotFound as exc:
            self.land_error(exc)
            with self.engine.begin() as conn:
                state.record_vanished(conn, self.provider, campaign_id, clock.utcnow())
            self.problem(f"campaign {campaign_id}: {exc}")
            return
        except VendorError as exc:
            self.land_error(exc)
            self.problem(f"campaign {campaign_id}: {exc}")
            return
        self.land_campaign(raw, campaign_id, summary_hash)

    def problem(self, text: str) -> None:
        with self.lock:
            self.report.problems.append(text)

    def read_watched(self) -> tuple[list[Known], bool]:
        """Campaigns still watched, and whether this sync reads the whole list."""
        with self.engine.begin() as conn:
            if self.policy.refresh_campaign_ids:
                marked = state.request_refresh(
                    conn, self.provider, self.policy.refresh_campaign_ids, self.now
                )
                unknown = set(self.policy.refresh_campaign_ids) - set(marked)
                if unknown:
                    self.progress(
                        f"{self.report.label}: refresh asked for unknown campaign(s) "
                        f"{', '.join(sorted(unknown))}: discovery will find them if they exist"
                    )
            watched = state.watched_campaigns(conn, self.provider, self.account, self.now)
            last_full_pass = state.last_full_pass(conn, self.provider, self.account)
        full = full_pass_due(last_full_pass, self.now, self.policy)
        self.report.full_pass = full
        return watched, full

    def list_position(self, created_at: datetime) -> int:
        """About how many campaigns the list shows before one created at ``created_at``."""
        if self.created is None:
            with self.engine.connect() as conn:
                newest_first = state.created_newest_first(conn, self.provider, self.account)
            self.created = [-instant.timestamp() for instant in newest_first]
        return bisect_left(self.created, -created_at.timestamp())

    def known(self, ids: Iterable[str]) -> dict[str, Known]:
        with self.engine.connect() as conn:
            return state.known_campaigns(conn, self.provider, ids)

    def finish(self, reached_end: bool) -> FetchReport:
        self.report.seconds = time.monotonic() - self.started
        if self.limiter is not None:
            self.report.throttled = self.limiter.throttled - self.throttled_before
        outcome = "refused: " + self.report.fatal if self.report.fatal else self.report.summary()
        with self.engine.begin() as conn:
            state.record_account_sync(
                conn,
                self.provider,
                self.account,
                clock.utcnow(),
                full_pass=reached_end and self.report.fatal is None,
                outcome=outcome[:500],
            )
        self.progress(self.report.summary())
        return self.report


def _wait_for(poll: AccountPoll, futures: list[Future[None]], what: str) -> None:
    """Wait for the submitted fetches, logging progress; a refused key cancels the rest."""
    total = len(futures)
    for done, future in enumerate(futures, start=1):
        if future.cancelled():
            continue
        try:
            future.result()
        except VendorAuthError as exc:
            if poll.report.fatal is None:
                poll.report.fatal = str(exc)
            for pending in futures:
                pending.cancel()
        if done % 100 == 0 or done == total:
            elapsed = max(time.monotonic() - poll.started, 1e-6)
            poll.progress(
                f"{poll.report.label}: {done}/{total} {what} fetched "
                f"({poll.report.responses_landed * 60 / elapsed:.0f} requests/min)"
            )


@contextmanager
def _detail_pool(poll: AccountPoll, get: Getter, name: str) -> Iterator[DetailFetches]:
    """Threads that fetch details; when the poll is interrupted (SIGTERM, Ctrl-C, an error)
    the details not started yet are dropped, so it stops once those in flight answered."""
    with ThreadPoolExecutor(poll.policy.max_concurrency, thread_name_prefix=name) as pool:
        try:
            yield DetailFetches(poll, pool, get)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


class DetailFetches:
    """Campaign details fetched on a pool of threads, each counted under its reason."""

    def __init__(self, poll: AccountPoll, pool: ThreadPoolExecutor, get: Getter) -> None:
        self.poll, self.pool, self.get = poll, pool, get
        self.futures: list[Future[None]] = []

    def submit(self, campaign_id: str, summary_hash: str | None, reason: str) -> None:
        self.poll.report.fetch_reasons[reason] += 1
        self.futures.append(
            self.pool.submit(self.poll.fetch_one, self.get, campaign_id, summary_hash)
        )

    def revisit_unreached(self) -> None:
        """Fetch directly every watched campaign that no page of this sync showed."""
        poll = self.poll
        for k in poll.watched:
            if k.campaign_id not in poll.seen and (reason := reason_to_revisit(k, poll.now)):
                self.submit(k.campaign_id, None, reason)


def _nixflex_page(poll: AccountPoll, details: DetailFetches, page: ListPage) -> dict[str, Known]:
    """Land one list page and fetch the details its summaries call for; its known states."""
    report, policy, seen = poll.report, poll.policy, poll.seen
    summaries = [s for s in page.summaries if s.campaign_id not in seen]
    known = poll.known(s.campaign_id for s in page.summaries)
    poll.land_page(page.raw, ((s.campaign_id, s.created_at) for s in summaries), False)
    report.campaigns_listed += len(summaries)
    for summary in summaries:
        seen.add(summary.campaign_id)
        digest = fingerprint(summary)
        previous = known.get(summary.campaign_id)
        reason = reason_to_fetch(previous, digest, poll.now, policy, summary.status)
        if reason:
            details.submit(summary.campaign_id, digest, reason)
        elif previous is not None and previous.settled(poll.now):
            report.skipped_settled += 1
        else:
            report.skipped_unchanged += 1
    return known


def _read_nixflex_list(
    poll: AccountPoll,
    details: DetailFetches,
    pages: Iterator[ListPage],
    stop: bool,
    limit: datetime | None = None,
    status: str | None = None,
) -> bool:
    """Read one listing (of one ``status``, or the whole list); True when read to its end.

    With ``stop``, discovery may stop past a known campaign created before ``limit`` (None:
    any known campaign), in the list's own creation order. A status listing that shows
    other statuses (the filter was not applied) is not read further: the watched campaigns
    it would have shown are fetched directly.
    """
    page_size = poll.policy.nixflex_page_size
    for page in pages:
        known = _nixflex_page(poll, details, page)
        if page.problem:
            poll.problem(f"list page {page.raw.params}: {page.problem}")
            return False
        if status is not None and any(s.status != status for s in page.summaries):
            poll.progress(f"{poll.report.label}: the list ignored status={status}; not read on")
            pages.close()  # type: ignore[attr-defined]
            return False
        listed = [(s.campaign_id, s.created_at) for s in page.summaries]
        if stop and can_stop_by_creation(listed, page_size, known, limit):
            poll.report.stopped_early = True
            pages.close()  # type: ignore[attr-defined]
            return False
    return True


def _discover_nixflex(poll: AccountPoll, client: NixflexClient, details: DetailFetches) -> bool:
    """Read the open statuses' lists, then the list newest first; True when read to its
    end. A refused key or an unreadable first page makes the account ``fatal``."""
    size = poll.policy.nixflex_page_size
    try:
        for status in () if poll.full else OPEN_STATUSES:
            pages = client.list_pages(page_size=size, status=status)
            _read_nixflex_list(poll, details, pages, stop=False, status=status)
        limit = horizon(poll.watched, poll.now, poll.policy, poll.list_position)
        pages = client.list_pages(page_size=size)
        return _read_nixflex_list(poll, details, pages, not poll.full, limit)
    except VendorError as exc:
        poll.land_error(exc)
        if isinstance(exc, VendorAuthError) or not poll.seen:
            poll.report.fatal = str(exc)
        else:
            poll.problem(f"listing stopped early: {exc}")
        return False


def fetch_nixflex(
    client: NixflexClient,
    engine: Engine,
    *,
    policy: PollingPolicy | None = None,
    run_id: str | None = None,
    progress: Progress = log.info,
) -> FetchReport:
    """One incremental poll of one Nixflex account (see ``pipelines.polling.policy``)."""
    poll = AccountPoll(client, engine, policy or PollingPolicy(), run_id, progress)
    report = poll.report
    with _detail_pool(poll, client.get_campaign, "nixflex") as details:
        reached_end = _discover_nixflex(poll, client, details)
        if report.fatal is None:
            details.revisit_unreached()
        progress(
            f"{report.label}: {report.campaigns_listed} listed, {len(details.futures)} to fetch"
        )
        _wait_for(poll, details.futures, "campaign details")
    return poll.finish(reached_end and poll.full)


def _read_history(poll: AccountPoll, pages: Iterator[HistoryPage], start: datetime | None) -> bool:
    """Land each history page (its rows are the counters: a poll of each campaign); True
    when read to its end. Past a full page sent before ``start`` (None: never), stop."""
    report, seen = poll.report, poll.seen
    for page in pages:
        campaigns = [c for c in page.campaigns if c.campaign_id not in seen]
        poll.land_page(page.raw, ((c.campaign_id, c.created_at) for c in campaigns), True)
        report.campaigns_listed += len(campaigns)
        report.campaigns_fetched += len(campaigns)
        report.fetch_reasons["history"] += len(campaigns)
        seen.update(c.campaign_id for c in campaigns)
        poll.progress(f"{report.label}: {report.campaigns_listed} campaigns read from the history")
        if page.problem:
            poll.problem(f"history page {page.raw.params}: {page.problem}")
            return False
        dates = [c.send_date for c in page.campaigns]
        size = poll.policy.smsfactor_page_size
        if start is not None and can_stop_by_send_date(dates, size, start):
            report.stopped_early = True
            pages.close()  # type: ignore[attr-defined]
            return False
    return True


def fetch_smsfactor(
    client: SmsFactorClient,
    engine: Engine,
    *,
    policy: PollingPolicy | None = None,
    run_id: str | None = None,
    progress: Progress = log.info,
) -> FetchReport:
    """One incremental poll of one SMSFactor account (see ``pipelines.polling.policy``)."""
    poll = AccountPoll(client, engine, policy or PollingPolicy(), run_id, progress)
    reached_end = False
    start = None if poll.full else window_start(poll.now, poll.policy)
    try:
        pages = client.history_pages(page_size=poll.policy.smsfactor_page_size, date_start=start)
        reached_end = _read_history(poll, pages, start)
    except VendorError as exc:
        poll.land_error(exc)
        poll.report.fatal = str(exc)
    if poll.report.fatal is None:
        with _detail_pool(poll, client.get_campaign, "smsfactor") as details:
            details.revisit_unreached()
            _wait_for(poll, details.futures, "campaigns")
    return poll.finish(reached_end and poll.full)


__all__ = ["REFRESH", "FetchReport", "fetch_nixflex", "fetch_smsfactor"]
