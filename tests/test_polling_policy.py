"""The polling rules as pure functions: which campaign is fetched and when discovery stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.polling.policy import (
    Known,
    PollingPolicy,
    can_stop,
    fingerprint,
    horizon,
    reason_to_fetch,
    reason_to_revisit,
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


def test_watched_campaigns_beyond_discovery_are_revisited_only_when_due() -> None:
    assert (
        reason_to_revisit(known(final=False, polled_ago=timedelta(minutes=5)), NOW, POLICY) is None
    )
    assert (
        reason_to_revisit(known(final=False, polled_ago=timedelta(hours=2)), NOW, POLICY)
        == "recheck"
    )
    assert reason_to_revisit(known(refresh=True), NOW, POLICY) == "refresh"


def test_horizon_is_the_oldest_watched_campaign_inside_the_lookback() -> None:
    recent = known(final=False, created_ago=timedelta(days=2))
    older = known(final=False, created_ago=timedelta(days=9))
    ancient_draft = known(final=False, created_ago=timedelta(days=400))
    assert horizon([recent, older, ancient_draft], NOW, POLICY) == NOW - timedelta(days=9)
    assert horizon([], NOW, POLICY) is None


def test_discovery_stops_only_past_known_campaigns_older_than_the_horizon() -> None:
    page_end = ("smsc_a", NOW - timedelta(days=10))
    seen = {"smsc_a": known()}
    assert can_stop(page_end, seen, None)
    assert can_stop(page_end, seen, NOW - timedelta(days=3))
    assert not can_stop(page_end, seen, NOW - timedelta(days=20))  # a watched one lies deeper
    assert not can_stop(page_end, {}, None)  # never seen: an earlier pass did not get here
    assert not can_stop(page_end, {"smsc_a": known(polled_ago=None)}, None)
    assert not can_stop(None, seen, None)  # an empty page proves nothing


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
