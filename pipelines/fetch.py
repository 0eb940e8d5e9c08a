"""Poll one vendor account incrementally and land every answer raw (plain Python; the assets
call this).

Nixflex: the list is read newest first; each listed campaign's detail is fetched only when
``polling.policy`` says so (new, changed summary, refresh, re-check due), on a pool of threads
that share the key's rate limiter; discovery stops early once it reaches campaigns that are
known and older than everything it still watches; watched campaigns it did not reach are
fetched directly when due. SMSFactor: the history (up to 1,000 campaigns a call, counters
included) is read the same way, so no per-campaign call is needed except for watched
campaigns beyond the pages read.

Every answer is landed as it arrives, error answers included, and the campaign's poll state
is updated in the same transaction: a fetch that fails leaves the campaign due, so the next
cycle tries again and nothing is lost. A refused key stops that account at once; a campaign
that vanished or keeps failing is recorded and the sync goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from pipelines import clock
from pipelines.polling import state
from pipelines.polling.policy import (
    REFRESH,
    Known,
    PollingPolicy,
    can_stop,
    fingerprint,
    horizon,
    reason_to_fetch,
    reason_to_revisit,
)
from pipelines.vendors.errors import VendorAuthError, VendorError, VendorNotFound
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.ratelimit import RateLimiter
from pipelines.vendors.raw import RawResponse
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.landing import land, land_now

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


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
        return (
            f"{self.label}: {self.pages_read} page(s) read"
            f"{' (stopped early)' if self.stopped_early else ''}, "
            f"{self.campaigns_listed} campaign(s) listed, {self.campaigns_fetched} fetched "
            f"({reasons}), {self.skipped_unchanged} unchanged and {self.skipped_settled} "
            f"settled skipped, {self.throttled} 429(s) waited out, {len(self.problems)} "
            f"problem(s) in {self.seconds:.1f}s"
        )


class _Poll:
    """State shared by one account's poll: the report, its lock, the landing helpers."""

    def __init__(
        self,
        provider: str,
        account: str,
        engine: Engine,
        policy: PollingPolicy,
        run_id: str | None,
        progress: Progress,
        limiter: RateLimiter | None,
    ) -> None:
        self.provider, self.account, self.engine = provider, account, engine
        self.limiter = limiter
        self.throttled_before = limiter.throttled if limiter else 0
        self.policy, self.run_id, self.progress = policy, run_id, progress
        self.report = FetchReport(provider, account)
        self.lock = threading.Lock()
        self.now = clock.utcnow()
        self.started = time.monotonic()

    def land_error(self, exc: VendorError) -> None:
        if exc.response is not None:
            land_now(self.engine, exc.response, self.run_id)
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

    def fetch_one(
        self, get: Callable[[str], RawResponse], campaign_id: str, summary_hash: str | None
    ) -> None:
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

    def watched(self) -> tuple[list[Known], datetime | None, bool]:
        """Campaigns still watched, how far back discovery must read, whether it must read all."""
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
            full_pass_done = state.last_full_pass(conn, self.provider, self.account) is not None
        read_all = self.policy.refresh_all or not full_pass_done
        return watched, horizon(watched, self.now, self.policy), read_all

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


def _enough(
    listed: list[tuple[str, datetime | None]],
    page_size: int,
    known: dict[str, Known],
    limit: datetime | None,
) -> bool:
    """Whether discovery may stop after this full page (a short page ends paging anyway)."""
    return len(listed) >= page_size and can_stop(listed[-1], known, limit)


def _drain(poll: _Poll, futures: list[Future[None]], what: str) -> None:
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


def fetch_nixflex(
    client: NixflexClient,
    engine: Engine,
    *,
    policy: PollingPolicy | None = None,
    run_id: str | None = None,
    progress: Progress = log.info,
) -> FetchReport:
    """One incremental poll of one Nixflex account (see the module docstring)."""
    policy = policy or PollingPolicy()
    poll = _Poll("nixflex", client.account, engine, policy, run_id, progress, client.limiter)
    report = poll.report
    watched, limit, read_all = poll.watched()
    seen: set[str] = set()
    futures: list[Future[None]] = []
    reached_end = True
    with ThreadPoolExecutor(policy.max_concurrency, thread_name_prefix="nixflex") as pool:

        def submit(campaign_id: str, summary_hash: str | None, reason: str) -> None:
            report.fetch_reasons[reason] += 1
            futures.append(
                pool.submit(poll.fetch_one, client.get_campaign, campaign_id, summary_hash)
            )

        try:
            pages = client.list_pages(page_size=policy.nixflex_page_size)
            for page in pages:
                summaries = [s for s in page.summaries if s.campaign_id not in seen]
                known = poll.known(s.campaign_id for s in summaries)
                poll.land_page(page.raw, ((s.campaign_id, s.created_at) for s in summaries), False)
                if page.problem:
                    poll.problem(
                        f"list page offset={page.raw.params.get('offset')}: {page.problem}"
                    )
                    reached_end = False
                report.campaigns_listed += len(summaries)
                for summary in summaries:
                    seen.add(summary.campaign_id)
                    digest = fingerprint(summary)
                    reason = reason_to_fetch(
                        known.get(summary.campaign_id), digest, poll.now, policy
                    )
                    if reason:
                        submit(summary.campaign_id, digest, reason)
                    elif known[summary.campaign_id].settled(poll.now):
                        report.skipped_settled += 1
                    else:
                        report.skipped_unchanged += 1
                listed = [(x.campaign_id, x.created_at) for x in page.summaries]
                if not read_all and _enough(listed, policy.nixflex_page_size, known, limit):
                    report.stopped_early, reached_end = True, False
                    pages.close()
                    break
        except VendorError as exc:
            poll.land_error(exc)
            reached_end = False
            if isinstance(exc, VendorAuthError) or not seen:
                report.fatal = str(exc)
            else:
                poll.problem(f"listing stopped early: {exc}")
        if report.fatal is None:
            for k in watched:
                if k.campaign_id not in seen and (reason := reason_to_revisit(k, poll.now, policy)):
                    submit(k.campaign_id, None, reason)
        progress(f"{report.label}: {report.campaigns_listed} listed, {len(futures)} to fetch")
        _drain(poll, futures, "campaign details")
    return poll.finish(reached_end)


def fetch_smsfactor(
    client: SmsFactorClient,
    engine: Engine,
    *,
    policy: PollingPolicy | None = None,
    run_id: str | None = None,
    progress: Progress = log.info,
) -> FetchReport:
    """One incremental poll of one SMSFactor account: its history, newest first."""
    policy = policy or PollingPolicy()
    poll = _Poll("smsfactor", client.account, engine, policy, run_id, progress, client.limiter)
    report = poll.report
    watched, limit, read_all = poll.watched()
    seen: set[str] = set()
    reached_end = True
    try:
        pages = client.history_pages(page_size=policy.smsfactor_page_size)
        for page in pages:
            campaigns = [c for c in page.campaigns if c.campaign_id not in seen]
            known = poll.known(c.campaign_id for c in campaigns)
            poll.land_page(page.raw, ((c.campaign_id, c.created_at) for c in campaigns), True)
            if page.problem:
                poll.problem(f"history page start={page.raw.params.get('start')}: {page.problem}")
                reached_end = False
            report.campaigns_listed += len(campaigns)
            report.campaigns_fetched += len(campaigns)
            report.fetch_reasons["history"] += len(campaigns)
            seen.update(c.campaign_id for c in campaigns)
            progress(f"{report.label}: {report.campaigns_listed} campaigns read from the history")
            listed = [(x.campaign_id, x.created_at) for x in page.campaigns]
            if not read_all and _enough(listed, policy.smsfactor_page_size, known, limit):
                report.stopped_early, reached_end = True, False
                pages.close()
                break
    except VendorError as exc:
        poll.land_error(exc)
        report.fatal = str(exc)
        reached_end = False
    if report.fatal is None:
        revisit = [
            (k.campaign_id, reason)
            for k in watched
            if k.campaign_id not in seen and (reason := reason_to_revisit(k, poll.now, policy))
        ]
        with ThreadPoolExecutor(policy.max_concurrency, thread_name_prefix="smsfactor") as pool:
            futures = []
            for campaign_id, reason in revisit:
                report.fetch_reasons[reason] += 1
                futures.append(pool.submit(poll.fetch_one, client.get_campaign, campaign_id, None))
            _drain(poll, futures, "campaigns")
    return poll.finish(reached_end)


__all__ = ["REFRESH", "FetchReport", "fetch_nixflex", "fetch_smsfactor"]
