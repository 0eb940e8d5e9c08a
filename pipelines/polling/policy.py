"""The polling policy as plain functions: which campaigns to fetch, and when discovery stops.

The rules, in the order they apply to a campaign a list page shows:

1. never fetched before → fetch (``new``);
2. an operator asked for it (``refresh_requested_at``) or the run refreshes everything →
   fetch (``refresh``);
3. its list summary (status and counts) differs from the one behind the last fetch → fetch
   (``changed``);
4. settled (the vendor calls it final and its last message left more than ``settle_window``
   ago) → skip;
5. not settled and not fetched for ``recheck_every`` → fetch (``recheck``): receipts that
   move a recipient inside one bucket (``sent`` → ``undelivered``) do not change the counts;
6. otherwise skip.

Discovery reads the list newest first and stops after a page whose oldest campaign is
already known and older than every campaign it still watches (``horizon``); campaigns it
watches but did not reach are fetched directly when rule 2 or 5 says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipelines.vendors.records import NixflexSummary

NEW, REFRESH, CHANGED, RECHECK = "new", "refresh", "changed", "recheck"


@dataclass(frozen=True)
class PollingPolicy:
    """Knobs of incremental polling (defaults follow the vendors' documented behaviour)."""

    settle_window: timedelta = timedelta(hours=72)  # receipts after this are unlikely
    recheck_every: timedelta = timedelta(hours=1)  # detail of an unsettled, unchanged campaign
    lookback: timedelta = timedelta(days=14)  # discovery reaches back to watched ones this new
    nixflex_page_size: int = 100  # documented maximum
    smsfactor_page_size: int = 1000  # documented maximum
    max_concurrency: int = 8  # requests in flight per account
    refresh_all: bool = False  # this run: read every page and every detail
    refresh_campaign_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Known:
    """What the warehouse holds about one campaign (a ``sms.campaign_poll_state`` row)."""

    campaign_id: str
    account: str
    created_at: datetime | None
    last_polled_at: datetime | None
    summary_hash: str | None
    is_final: bool
    settles_at: datetime | None
    refresh_requested_at: datetime | None

    def settled(self, now: datetime) -> bool:
        return self.is_final and self.settles_at is not None and self.settles_at <= now

    def recheck_due(self, now: datetime, policy: PollingPolicy) -> bool:
        if self.settled(now):
            return False
        return self.last_polled_at is None or self.last_polled_at + policy.recheck_every <= now


def fingerprint(summary: NixflexSummary) -> str:
    """A stable digest of what a Nixflex list summary says about a campaign."""
    fields = [
        summary.campaign_id,
        summary.name,
        summary.status,
        summary.created_at.isoformat() if summary.created_at else None,
        summary.total,
        summary.delivered,
        summary.failed,
        summary.pending,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


def reason_to_fetch(
    known: Known | None,
    summary_hash: str | None,
    now: datetime,
    policy: PollingPolicy,
) -> str | None:
    """Why a listed campaign's detail must be fetched now, or None to skip it."""
    if known is None or known.last_polled_at is None:
        return NEW
    if policy.refresh_all or known.refresh_requested_at is not None:
        return REFRESH
    if summary_hash is None or summary_hash != known.summary_hash:
        return CHANGED
    if known.recheck_due(now, policy):
        return RECHECK
    return None


def reason_to_revisit(known: Known, now: datetime, policy: PollingPolicy) -> str | None:
    """Why a watched campaign that discovery did not reach must be fetched directly."""
    if known.refresh_requested_at is not None:
        return REFRESH
    if known.recheck_due(now, policy):
        return RECHECK
    return None


def horizon(watched: Sequence[Known], now: datetime, policy: PollingPolicy) -> datetime | None:
    """Discovery must page at least back to here: the oldest watched campaign it covers."""
    recent = [
        k.created_at
        for k in watched
        if k.created_at is not None and k.created_at >= now - policy.lookback
    ]
    return min(recent) if recent else None


def can_stop(
    oldest: tuple[str, datetime | None] | None,
    known: dict[str, Known],
    limit: datetime | None,
) -> bool:
    """Whether discovery may stop after a page whose oldest campaign is ``oldest``.

    It may once that campaign was already fetched before (so everything older was seen by an
    earlier complete pass) and lies beyond ``limit`` (every watched campaign was covered).
    """
    if oldest is None:
        return False
    campaign_id, created_at = oldest
    seen = known.get(campaign_id)
    if seen is None or seen.last_polled_at is None:
        return False
    if limit is None:
        return True
    return created_at is not None and created_at < limit
