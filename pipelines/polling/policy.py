"""The polling policy as plain functions: which campaigns to fetch, and where discovery stops.

**The bound.** For every campaign that is not settled, a change the vendor's list shows at
the start of a sync (its status or any count; for SMSFactor the history row *is* the
counters) is loaded by the end of that sync, whatever its id, creation date, send date or
schedule. A change only a detail shows (a receipt that moves a recipient inside one bucket,
``sent`` → ``undelivered``) is loaded within ``recheck_every``. A campaign is *settled* once
the vendor calls it final and its last message left more than ``settle_window`` ago, or,
when the vendor never calls it final (a Nixflex ``done`` with recipients still pending, an
undocumented SMSFactor status), once nothing of it changed for ``settle_window``; a settled
campaign is still read by the daily whole-list pass, and again when its summary changes.

**Discovery, in the order each vendor sorts by.** Discovery never stops by a date the page
is not sorted by, and a page that is not in the order asked for never stops it.

* Nixflex lists campaigns newest first by ``created_at`` and filters by ``status``. Each
  sync reads the statuses that can still move in full (``draft``, ``scheduled``,
  ``running``: ``OPEN_STATUSES``), then the unfiltered list newest first until a full page
  whose oldest campaign was fetched before and was created before ``horizon``: the oldest
  final, unsettled campaign created within ``lookback``, or an older one when paging to it
  costs fewer calls than fetching the ones beyond it directly.
* SMSFactor's history is asked for by send date, newest first (``sort=-date``), from
  ``date_start`` = now - ``settle_window`` - ``WINDOW_MARGIN``: every campaign sent since
  then or scheduled later, counters included. Every final campaign that is not settled was
  sent inside that window. Paging also stops after a full page, in send-date order, whose
  last campaign was sent before the window (should the vendor ignore ``date_start``).
* Both: a watched campaign (not settled) that no page read in this sync showed is fetched
  directly (``unreached``): for Nixflex a final campaign created before the horizon, or one
  that left the open statuses; for SMSFactor one held (waiting, in moderation, in progress)
  since before the window.
* The whole list is read on the first sync and again every ``full_pass_every`` (``full``
  pass): it finds campaigns that appear with old dates (moved from another platform,
  backdated) and settled campaigns the vendor changed after all.

**Which listed campaigns are fetched**, in the order the rules apply:

1. never fetched before → fetch (``new``);
2. an operator asked for it (``refresh_requested_at``) or the run refreshes everything →
   fetch (``refresh``);
3. its list summary (status and counts) differs from the one behind the last fetch → fetch
   (``changed``);
4. settled → skip;
5. sending or sent, not settled and not fetched for ``recheck_every`` → fetch (``recheck``):
   receipts that move a recipient inside one bucket do not change the counts;
6. otherwise skip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from pipelines.vendors import nixflex_client, smsfactor_client
from pipelines.vendors.records import NixflexSummary

NEW, REFRESH, CHANGED, RECHECK, UNREACHED = "new", "refresh", "changed", "recheck", "unreached"
# Nixflex statuses a campaign can still leave: listed in full every sync (documented filter).
OPEN_STATUSES = ("draft", "scheduled", "running")
# Statuses with nothing sent yet: no receipt can move, so no hourly re-check.
NOT_SENDING = frozenset({"draft", "scheduled"})
# SMSFactor's window starts this much before the settle window: send dates are Paris wall
# clock with no zone (an autumn hour occurs twice), and a load can lag its fetch.
WINDOW_MARGIN = timedelta(days=1)
# Vendor docs: a further receipt after this is unlikely.
SETTLE_WINDOW = timedelta(hours=72)


@dataclass(frozen=True)
class PollingPolicy:
    """Knobs of incremental polling (defaults follow the vendors' documented behaviour)."""

    settle_window: timedelta = SETTLE_WINDOW
    recheck_every: timedelta = timedelta(hours=1)  # detail of an unsettled, unchanged campaign
    lookback: timedelta = timedelta(days=14)  # Nixflex: pages read back to final ones this new
    full_pass_every: timedelta = timedelta(days=1)  # the whole list, for backdated arrivals
    nixflex_page_size: int = nixflex_client.MAX_PAGE_SIZE
    smsfactor_page_size: int = smsfactor_client.MAX_PAGE_SIZE
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
        """Past ``settles_at``: the loader sets it for a final campaign from its last message,
        and for one the vendor never calls final from its last change (the same window)."""
        return self.settles_at is not None and self.settles_at <= now

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
    status: str | None = None,
) -> str | None:
    """Why a listed campaign's detail must be fetched now (``status`` as listed), or None."""
    if known is None or known.last_polled_at is None:
        return NEW
    if policy.refresh_all or known.refresh_requested_at is not None:
        return REFRESH
    if summary_hash is None or summary_hash != known.summary_hash:
        return CHANGED
    if status not in NOT_SENDING and known.recheck_due(now, policy):
        return RECHECK
    return None


def reason_to_revisit(known: Known, now: datetime) -> str | None:
    """Why a watched campaign that no page of this sync showed must be fetched directly."""
    if known.refresh_requested_at is not None:
        return REFRESH
    if not known.settled(now):
        return UNREACHED
    return None


def horizon(
    watched: Sequence[Known],
    now: datetime,
    policy: PollingPolicy,
    position: Callable[[datetime], int] | None = None,
) -> datetime | None:
    """Nixflex: the unfiltered list is read back to here. It covers every final, unsettled
    campaign created within ``lookback`` (open ones are in the status lists), and older ones
    too where paging to them costs fewer calls than fetching each directly; ``position``
    estimates how many campaigns the list shows before an instant."""
    final = sorted(
        (
            k.created_at
            for k in watched
            if k.is_final and not k.settled(now) and k.created_at is not None
        ),
        reverse=True,
    )
    recent = [created for created in final if created >= now - policy.lookback]
    older = final[len(recent) :]
    reach = recent[-1] if recent else None
    if not older or position is None:
        return reach

    def pages(created: datetime | None) -> int:
        shown = 0 if created is None else position(created) + 1
        return max(1, -(-shown // policy.nixflex_page_size))

    cost = pages(reach) + len(older)
    for covered, created in enumerate(older, start=1):
        if pages(created) + len(older) - covered < cost:
            reach, cost = created, pages(created) + len(older) - covered
    return reach


def full_pass_due(last_full_pass: datetime | None, now: datetime, policy: PollingPolicy) -> bool:
    """Whether this sync reads the whole list (never done, due again, or asked for)."""
    return (
        policy.refresh_all
        or last_full_pass is None
        or last_full_pass + policy.full_pass_every <= now
    )


def window_start(now: datetime, policy: PollingPolicy) -> datetime:
    """SMSFactor: the history is read from this send date on (every unsettled final one)."""
    return now - policy.settle_window - WINDOW_MARGIN


def in_order(keys: Sequence[datetime | None]) -> bool:
    """Whether a page is newest first by ``keys`` (a missing key proves nothing)."""
    if any(key is None for key in keys):
        return False
    return all(a >= b for a, b in pairwise(keys))  # type: ignore[operator]


def can_stop_by_creation(
    page: Sequence[tuple[str, datetime | None]],
    page_size: int,
    known: dict[str, Known],
    limit: datetime | None,
) -> bool:
    """Nixflex: whether discovery may stop after this page of (id, created_at), newest first.

    Only after a full page in creation order whose oldest campaign was fetched before (an
    earlier pass read everything older) and was created before ``limit``.
    """
    if len(page) < page_size or not page or not in_order([created for _, created in page]):
        return False
    campaign_id, created_at = page[-1]
    seen = known.get(campaign_id)
    if seen is None or seen.last_polled_at is None:
        return False
    return limit is None or (created_at is not None and created_at < limit)


def can_stop_by_send_date(
    send_dates: Sequence[datetime | None], page_size: int, start: datetime
) -> bool:
    """SMSFactor: whether paging may stop after this page of send dates, newest first: a full
    page in send-date order whose last campaign was sent before the window ``start``."""
    if len(send_dates) < page_size or not send_dates or not in_order(send_dates):
        return False
    last = send_dates[-1]
    return last is not None and last < start
