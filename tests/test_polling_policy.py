"""The polling rules as pure functions: which campaign is fetched and when discovery stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.polling.policy import (
    Known,
    PollingPolicy,
    can_stop_by_creation,
    can_stop_by_send_date,
    fingerprint,
    full_pass_due,
    horizon,
    in_order,
    reason_to_fetch,
    reason_to_revisit,
    window_start,
)
from pipelines.vendors.records import NixflexSummary

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = PollingPolicy()


def known(
    *,
    polled_ago: timedelta | None = timedelta(minutes=15),
    final: bool = True,
    settles_in: timedelta | None = timedelta(hours=-1),
    created_ago: timedelta = timedelta(days=10),
    summary_hash: str | None = "h",
    refresh: bool = False,
    campaign_id: str = "smsc_a",
) -> Known:
    return Known(
        campaign_id=campaign_id,
        account="default",
        created_at=NOW - created_ago,
        last_polled_at=None if polled_ago is None else NOW - polled_ago,
        summary_hash=summary_hash,
        is_final=final,
        settles_at=None if settles_in is None else NOW + settles_in,
        refresh_requested_at=NOW if refresh else None,
    )


@pytest.mark.parametrize(
    ("state", "summary_hash", "expected"),
    [
        (None, "h", "new"),
        (known(polled_ago=None), "h", "new"),  # listed before, its detail never landed
        (known(refresh=True), "h", "refresh"),
        (known(), "other", "changed"),  # even a settled campaign: its summary moved
        (known(), None, "changed"),  # a summary that could not be read is not "unchanged"
        (known(), "h", None),  # settled and unchanged
        (known(final=False, settles_in=None), "h", None),  # unsettled, re-checked 15 min ago
        (known(final=False, settles_in=None, polled_ago=timedelta(hours=1)), "h", "recheck"),
        (known(settles_in=timedelta(hours=5), polled_ago=timedelta(hours=2)), "h", "recheck"),
    ],
)
def test_reason_to_fetch(state: Known | None, summary_hash: str | None, expected: str) -> None:
    assert reason_to_fetch(state, summary_hash, NOW, POLICY) == expected


def test_refresh_all_refetches_a_settled_unchanged_campaign() -> None:
    assert reason_to_fetch(known(), "h", NOW, PollingPolicy(refresh_all=True)) == "refresh"


def test_nothing_is_rechecked_before_it_sends() -> None:
    """A draft or scheduled campaign has no receipt to wait for: its summary says all."""
    due = known(final=False, settles_in=None, polled_ago=timedelta(hours=2))
    assert reason_to_fetch(due, "h", NOW, POLICY, "running") == "recheck"
    assert reason_to_fetch(due, "h", NOW, POLICY, "draft") is None
    assert reason_to_fetch(due, "h", NOW, POLICY, "scheduled") is None
    assert reason_to_fetch(due, "other", NOW, POLICY, "scheduled") == "changed"


def test_a_watched_campaign_no_page_showed_is_fetched_in_the_same_sync() -> None:
    """Not only when its hourly re-check is due: the list could not say it did not move."""
    just_polled = known(final=False, settles_in=None, polled_ago=timedelta(minutes=5))
    assert reason_to_revisit(just_polled, NOW) == "unreached"
    unsettled = known(settles_in=timedelta(hours=5), polled_ago=timedelta(minutes=5))
    assert reason_to_revisit(unsettled, NOW) == "unreached"
    assert reason_to_revisit(known(), NOW) is None  # settled: nothing can move
    assert reason_to_revisit(known(refresh=True), NOW) == "refresh"


def test_horizon_is_the_oldest_final_unsettled_campaign_inside_the_lookback() -> None:
    """Open campaigns are in the status lists, settled ones cannot move, and final ones older
    than the lookback are fetched directly: none of them pushes the horizon back."""
    recent = known(settles_in=timedelta(hours=5), created_ago=timedelta(days=2))
    older = known(settles_in=timedelta(hours=5), created_ago=timedelta(days=9))
    open_older = known(final=False, settles_in=None, created_ago=timedelta(days=12))
    settled = known(created_ago=timedelta(days=13))
    ancient = known(settles_in=timedelta(hours=5), created_ago=timedelta(days=400))
    watched = [recent, older, open_older, settled, ancient]
    assert horizon(watched, NOW, POLICY) == NOW - timedelta(days=9)
    assert horizon([], NOW, POLICY) is None


def test_older_final_campaigns_are_paged_to_only_when_cheaper_than_fetching_each() -> None:
    """Beyond the lookback, reading the list down to a campaign costs its page count; not
    reading it costs one detail call per campaign left beyond the pages read."""
    recent = known(settles_in=timedelta(hours=5), created_ago=timedelta(days=2))

    def at(days: float) -> Known:
        return known(settles_in=timedelta(hours=5), created_ago=timedelta(days=days))

    def position(shown_per_day: float):
        return lambda created: int((NOW - created) / timedelta(days=1) * shown_per_day)

    five_old = [recent, *(at(100 + i) for i in range(5))]
    # 100 days at 3.5 campaigns a day: about 4 pages reach them all, instead of 5 details.
    assert horizon(five_old, NOW, POLICY, position(3.5)) == NOW - timedelta(days=104)
    # At 50 a day the same campaigns lie 50 pages deep: fetched directly instead.
    assert horizon(five_old, NOW, POLICY, position(50)) == NOW - timedelta(days=2)
    # Without an estimate, the lookback alone decides.
    assert horizon(five_old, NOW, POLICY) == NOW - timedelta(days=2)


def page(*created_days_ago: float) -> list[tuple[str, datetime | None]]:
    return [(f"smsc_{i}", NOW - timedelta(days=d)) for i, d in enumerate(created_days_ago)]


def test_discovery_stops_only_past_known_campaigns_older_than_the_horizon() -> None:
    listed = page(1, 5, 10)
    last = listed[-1][0]
    seen = {last: known(campaign_id=last)}
    assert can_stop_by_creation(listed, 3, seen, None)
    assert can_stop_by_creation(listed, 3, seen, NOW - timedelta(days=3))
    assert not can_stop_by_creation(listed, 3, seen, NOW - timedelta(days=20))  # one lies deeper
    assert not can_stop_by_creation(listed, 3, {}, None)  # never seen: no pass got here
    assert not can_stop_by_creation(listed, 3, {last: known(polled_ago=None)}, None)
    assert not can_stop_by_creation(listed, 4, seen, None)  # a short page ends paging anyway
    assert not can_stop_by_creation([], 0, seen, None)  # an empty page proves nothing


def test_a_page_out_of_creation_order_never_stops_discovery() -> None:
    """If the vendor's "newest first" is not by created_at, the dates prove nothing."""
    listed = page(1, 10, 5)
    last = listed[-1][0]
    assert not can_stop_by_creation(listed, 3, {last: known(campaign_id=last)}, None)
    assert in_order([NOW, NOW, NOW - timedelta(1)])
    assert not in_order([NOW, None])


def test_history_stops_after_a_full_page_sent_before_the_window() -> None:
    start = window_start(NOW, POLICY)
    assert start == NOW - timedelta(hours=72) - timedelta(days=1)
    before = [start + timedelta(hours=1), start - timedelta(hours=1)]
    assert can_stop_by_send_date(before, 2, start)
    assert not can_stop_by_send_date(before, 3, start)  # short page
    assert not can_stop_by_send_date(list(reversed(before)), 2, start)  # not in date order
    assert not can_stop_by_send_date([start + timedelta(hours=2), start], 2, start)
    assert not can_stop_by_send_date([start, None], 2, start)  # an unreadable date


def test_the_whole_list_is_read_first_then_once_a_day() -> None:
    assert full_pass_due(None, NOW, POLICY)
    assert not full_pass_due(NOW - timedelta(hours=23), NOW, POLICY)
    assert full_pass_due(NOW - timedelta(hours=24), NOW, POLICY)
    assert full_pass_due(NOW, NOW, PollingPolicy(refresh_all=True))


def test_fingerprint_moves_with_any_count_or_the_status() -> None:
    base = NixflexSummary("smsc_a", "Promo", "running", NOW, 10, 5, 1, 4)
    variants = [
        NixflexSummary("smsc_a", "Promo", "done", NOW, 10, 5, 1, 4),
        NixflexSummary("smsc_a", "Promo", "running", NOW, 10, 6, 1, 3),
        NixflexSummary("smsc_a", "Promo", "running", NOW, 10, 5, 2, 3),
        NixflexSummary("smsc_a", "Promo", "running", NOW, 11, 5, 1, 5),
    ]
    assert len({fingerprint(v) for v in [base, *variants]}) == 5
    assert fingerprint(base) == fingerprint(
        NixflexSummary("smsc_a", "Promo", "running", NOW, 10, 5, 1, 4)
    )
