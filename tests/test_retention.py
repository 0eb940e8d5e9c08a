"""Raw retention: whole months of raw answers deleted, nothing a later answer needs lost,
facts kept, and a full replay refused once it could no longer rebuild them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from pipelines.warehouse.bodies import read_back
from pipelines.warehouse.replay import ReplayRefused, ReplayScope, replay
from pipelines.warehouse.retention import first_month_kept, prune_raw
from tests.conftest import SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, scalar

INSERT = (
    "insert into raw.vendor_response (provider, endpoint, request_path, campaign_id, "
    "http_status, fetched_at, content_hash, body, load_status, duplicate_of) values "
    "('nixflex', 'campaign.get', '/campaigns/c', 'c_old', 200, :at, 'h', :body, :status, :dup) "
    "returning response_id"
)


def _month_start(offset: int) -> datetime:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 + offset
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _land(engine: Engine, months_ago: int, body: bytes | None, status: str, dup: int | None) -> int:
    return _land_at(engine, _month_start(-months_ago).replace(day=10), body, dup, status)


def _land_at(
    engine: Engine, at: datetime, body: bytes | None, dup: int | None, status: str = "loaded"
) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(INSERT), {"at": at, "body": body, "status": status, "dup": dup}
            ).scalar_one()
        )


def _months_back(engine: Engine, months: int) -> None:
    """Partitions of raw answers from ``months`` months ago to now, as an old warehouse has."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "select raw.ensure_month_partitions('raw.vendor_response', 'fetched_at', "
                ":first, now())"
            ),
            {"first": _month_start(-months)},
        )


def test_the_first_month_kept_counts_this_month_as_one() -> None:
    assert first_month_kept(date(2026, 12, 2), 1) == date(2026, 12, 1)
    assert first_month_kept(date(2026, 12, 2), 3) == date(2026, 10, 1)
    assert first_month_kept(date(2026, 2, 28), 14) == date(2025, 1, 1)


def test_old_months_go_whole_and_nothing_later_answers_need_is_lost(
    engine: Engine, simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    _months_back(engine, 6)
    original = _land(engine, 5, b'{"id": "c_old"}', "loaded", None)
    later_same = _land(engine, 1, None, "loaded", original)  # kept by reference
    later_too = _land(engine, 0, None, "loaded", original)
    waiting = _land(engine, 4, b"{}", "pending", None)  # not loaded yet: its month stays
    # Loading with the setting on: the pending answer gets loaded (quarantined: not a
    # campaign), so its month may go too, and the sync's own answers (this month) stay.
    monkeypatch.setenv("RAW_RETENTION_MONTHS", "3")
    assert run_full_sync().success

    months = [r["month"] for r in rows(engine, "select month from raw.pruned_month order by 1")]
    assert months == [_month_start(-k).date() for k in (6, 5, 4, 3)]
    left = {
        str(r["relname"])
        for r in rows(
            engine,
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'raw.vendor_response'::regclass",
        )
    }
    assert f"vendor_response_{_month_start(-5):%Y_%m}" not in left
    assert f"vendor_response_{_month_start(-2):%Y_%m}" in left
    assert (
        scalar(
            engine,
            "select count(*) from raw.vendor_response where response_id in (:a, :b)",
            a=original,
            b=waiting,
        )
        == 0
    )

    # The later answers still read back the bytes the deleted one held.
    with engine.connect() as conn:
        assert read_back(conn, later_same)[1] == b'{"id": "c_old"}'
        assert read_back(conn, later_too)[1] == b'{"id": "c_old"}'
    assert (
        scalar(
            engine,
            "select duplicate_of from raw.vendor_response where response_id = :i",
            i=later_too,
        )
        == later_same
    )

    # The facts of the sync stay; a full replay, which would lose facts, refuses to start.
    recipients = scalar(engine, "select count(*) from sms.fact_recipient_delivery")
    assert recipients > 0
    with pytest.raises(ReplayRefused, match="RAW_RETENTION_MONTHS"):
        replay(engine, ReplayScope.ALL)
    replay(engine, ReplayScope.QUARANTINED)
    assert scalar(engine, "select count(*) from sms.fact_recipient_delivery") == recipients


def test_a_month_with_answers_not_loaded_yet_is_kept(engine: Engine) -> None:
    _months_back(engine, 4)
    waiting = _land(engine, 4, b"{}", "pending", None)
    pruned = prune_raw(engine, keep_months=2)
    assert pruned.kept_pending == (_month_start(-4).date(),)
    assert _month_start(-4).date() not in pruned.months
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where response_id = :i", i=waiting)
        == 1
    )
    with pytest.raises(ValueError, match="1 or more"):
        prune_raw(engine, keep_months=0)


def test_an_answer_of_a_months_last_hour_gives_its_bytes_to_the_next_months_answers(
    engine: Engine,
) -> None:
    """Months are UTC months whatever the warehouse's TimeZone (the embedded test database
    runs in Europe/Paris): an answer fetched at 23:30 UTC on a month's last day goes with
    that month, and the answer fetched an hour later, in the next month, that points at its
    bytes gets them first."""
    _months_back(engine, 4)
    kept_month = _month_start(-2)
    last_hour = kept_month - timedelta(minutes=30)  # 23:30 UTC, the month before
    first_hour = kept_month + timedelta(minutes=30)  # 00:30 UTC, the first day
    original = _land_at(engine, last_hour, b'{"id": "late"}', None)
    later = _land_at(engine, first_hour, None, original)

    pruned = prune_raw(engine, keep_months=3)

    assert _month_start(-3).date() in pruned.months
    assert kept_month.date() not in pruned.months
    left = [r["response_id"] for r in rows(engine, "select response_id from raw.vendor_response")]
    assert left == [later]
    with engine.connect() as conn:
        assert read_back(conn, later)[1] == b'{"id": "late"}'
