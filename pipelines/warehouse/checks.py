"""Run a data-quality check: the SQL file ``sql/checks/<name>.sql`` lists offending rows.

Each check file is the same query an analyst can run by hand in psql; no rows means pass.
Rows carry ``provider`` and ``campaign_id`` so a failure names the campaigns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from pipelines.warehouse import sqlfiles


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    rows: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return not self.rows

    @property
    def campaigns(self) -> list[str]:
        """Offending campaigns as ``provider:campaign_id`` (providers alone when no campaign)."""
        named: list[str] = []
        for row in self.rows:
            label = row.get("provider") or "?"
            if row.get("campaign_id"):
                label = f"{label}:{row['campaign_id']}"
            if label not in named:
                named.append(label)
        return named


def run_check(
    engine: Engine,
    name: str,
    since: datetime | None = None,
    params: Mapping[str, object] | None = None,
) -> CheckOutcome:
    """Run ``sql/checks/<name>.sql`` read-only and return its rows. ``since``: for the checks
    that take it, look only at campaigns loaded since then (None: every campaign);
    ``params``: the other values its SQL takes (``stale_after_minutes``)."""
    sql = sqlfiles.read(f"checks/{name}.sql")
    binds = {"since": since, **(params or {})}
    with engine.connect() as conn:
        conn.execute(text("set transaction read only"))
        rows = [dict(r) for r in conn.execute(text(sql), binds).mappings().all()]
        conn.rollback()
    return CheckOutcome(name, rows)


def takes(name: str, bind: str) -> bool:
    """Whether ``sql/checks/<name>.sql`` takes the bind parameter ``:<bind>``."""
    return f":{bind}" in sqlfiles.read(f"checks/{name}.sql")


def takes_since(name: str) -> bool:
    """Whether ``sql/checks/<name>.sql`` can be limited to recently loaded campaigns."""
    return takes(name, "since")


# One cycle of the schedule poll_vendors_every_15_minutes (tests/test_definitions.py holds
# the two together).
SYNC_EVERY_MINUTES = 15.0


def stale_after_minutes(recheck_minutes: float) -> float:
    """How long a watched campaign may go unread before ``unsettled_campaigns_are_read_in_time``
    names it: ``recheck_minutes`` (PollingResource), plus one sync cycle, because a recheck
    that falls due just after a sync starts is only done by the next one."""
    return recheck_minutes + SYNC_EVERY_MINUTES


def loaded_since(engine: Engine) -> datetime:
    """The warehouse's clock now: where a load starts, for the checks that follow it."""
    with engine.connect() as conn:
        return conn.execute(text("select now()")).scalar_one()
