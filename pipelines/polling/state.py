"""The poller's bookkeeping in the warehouse (campaign and account poll state), and how long
it has left the campaigns it watches unread (``read_ages``: the figure the check
``unsettled_campaigns_are_read_in_time`` bounds)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, text

from pipelines.polling.policy import Known
from pipelines.warehouse import sqlfiles


def _as_known(row: Row[Any]) -> Known:
    return Known(**row._mapping)


def known_campaigns(conn: Connection, provider: str, ids: Iterable[str]) -> dict[str, Known]:
    """The state of the given campaigns; a campaign never seen is absent."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    result = conn.execute(
        text(sqlfiles.read("polling/known_campaigns.sql")), {"provider": provider, "ids": wanted}
    )
    return {row.campaign_id: _as_known(row) for row in result}


def watched_campaigns(conn: Connection, provider: str, account: str, now: datetime) -> list[Known]:
    """The account's campaigns that are not settled yet or have a refresh requested."""
    result = conn.execute(
        text(sqlfiles.read("polling/watched_campaigns.sql")),
        {"provider": provider, "account": account, "now": now},
    )
    return [_as_known(row) for row in result]


def created_newest_first(conn: Connection, provider: str, account: str) -> list[datetime]:
    """Creation instants of the account's known campaigns, newest first (the list's order)."""
    result = conn.execute(
        text(sqlfiles.read("polling/created_newest_first.sql")),
        {"provider": provider, "account": account},
    )
    return list(result.scalars())


def last_full_pass(conn: Connection, provider: str, account: str) -> datetime | None:
    row = conn.execute(
        text(sqlfiles.read("polling/account_state.sql")),
        {"provider": provider, "account": account},
    ).one_or_none()
    return row.last_full_pass_at if row else None


def record_listed(
    conn: Connection,
    provider: str,
    account: str,
    listed: Iterable[tuple[str, datetime | None]],
    at: datetime,
) -> None:
    """Campaigns (id, created_at) a list or history page showed at ``at``."""
    rows = [
        {
            "provider": provider,
            "campaign_id": campaign_id,
            "account": account,
            "created_at": created_at,
            "at": at,
        }
        for campaign_id, created_at in listed
    ]
    if rows:
        conn.execute(text(sqlfiles.read("polling/record_listed.sql")), rows)


def record_polled(
    conn: Connection,
    provider: str,
    account: str,
    campaign_ids: Iterable[str],
    at: datetime,
    summary_hash: str | None = None,
) -> None:
    """The campaigns' own data was fetched and landed at ``at``."""
    rows = [
        {
            "provider": provider,
            "campaign_id": campaign_id,
            "account": account,
            "at": at,
            "summary_hash": summary_hash,
        }
        for campaign_id in campaign_ids
    ]
    if rows:
        conn.execute(text(sqlfiles.read("polling/record_polled.sql")), rows)


def record_vanished(conn: Connection, provider: str, campaign_id: str, at: datetime) -> None:
    conn.execute(
        text(sqlfiles.read("polling/record_vanished.sql")),
        {"provider": provider, "campaign_id": campaign_id, "at": at},
    )


def request_refresh(
    conn: Connection, provider: str, campaign_ids: Iterable[str] | None, at: datetime
) -> list[str]:
    """Mark known campaigns (all of the provider's when ``campaign_ids`` is None) for refresh."""
    ids = None if campaign_ids is None else list(campaign_ids)
    result = conn.execute(
        text(sqlfiles.read("polling/request_refresh.sql")),
        {"provider": provider, "ids": ids, "at": at},
    )
    return list(result.scalars())


def record_account_sync(
    conn: Connection, provider: str, account: str, at: datetime, *, full_pass: bool, outcome: str
) -> None:
    conn.execute(
        text(sqlfiles.read("polling/record_account_sync.sql")),
        {
            "provider": provider,
            "account": account,
            "at": at,
            "full_pass": full_pass,
            "outcome": outcome,
        },
    )


@dataclass(frozen=True)
class AccountReadAge:
    """One account's watched (not settled, not vanished) campaigns and the one read longest
    ago: ``oldest_read_at`` is its last read, or when it was first seen if never read."""

    account: str
    unsettled_campaigns: int
    oldest_campaign_id: str
    oldest_never_read: bool
    oldest_read_at: datetime
    oldest_read_minutes: float


def read_ages(engine: Engine, provider: str, now: datetime) -> list[AccountReadAge]:
    """Per account of ``provider`` with a watched campaign, how long ago (at ``now``) the
    campaign read longest ago was read (``sql/polling/unsettled_read_age.sql``, by index)."""
    with engine.connect() as conn:
        result = conn.execute(
            text(sqlfiles.read("polling/unsettled_read_age.sql")),
            {"provider": provider, "now": now},
        )
        return [
            AccountReadAge(**{**r, "oldest_read_minutes": float(r["oldest_read_minutes"])})
            for r in result.mappings()
        ]
