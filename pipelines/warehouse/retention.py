"""Raw retention: delete whole months of ``raw.vendor_response`` older than the setting.
Months are UTC months (those of the partitions), whatever the session's TimeZone.

``RAW_RETENTION_MONTHS`` unset (the default) keeps every answer. Set to N, each load ends
by dropping the month partitions that ended more than N whole months ago (this month
counts as the first of the N), so the landing stops growing without a row-by-row delete.
A month that still holds an answer not loaded yet is kept until it is loaded. Answers kept
after a deleted month that pointed at its bytes (``duplicate_of``) get those bytes first.

What it costs: the facts stay, but what they were read from is gone, so ``make replay``
(scope ``all``) refuses once a month has been deleted (``raw.pruned_month`` lists them), and
a parser fix can only be applied to quarantined answers still kept. ``raw.quarantine`` rows
stay (their reason and item), though ``make raw-body`` cannot find their answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from psycopg import sql
from sqlalchemy import Engine, text

from pipelines.warehouse import sqlfiles
from pipelines.warehouse.lanes import one_load_at_a_time

_PARTITION = re.compile(r"vendor_response_\d{4}_\d{2}")


@dataclass(frozen=True)
class Pruned:
    months: tuple[date, ...]
    answers: int
    kept_pending: tuple[date, ...]  # old enough, but holding answers not loaded yet


def first_month_kept(today: date, keep_months: int) -> date:
    """The first day of the oldest month kept: this month is the first of ``keep_months``."""
    index = today.year * 12 + today.month - 1 - (keep_months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def prune_raw(
    engine: Engine, keep_months: int, progress: Callable[[str], None] | None = None
) -> Pruned:
    """Drop the months of raw answers older than ``keep_months`` (see the module), under the
    load lock: no load or replay marks an answer of those months pending meanwhile."""
    if keep_months < 1:
        raise ValueError("RAW_RETENTION_MONTHS must be 1 or more (unset keeps every answer)")
    with one_load_at_a_time(engine, progress):
        return _prune(engine, keep_months, progress)


def _prune(engine: Engine, keep_months: int, progress: Callable[[str], None] | None) -> Pruned:
    say = progress or (lambda _: None)
    with engine.connect() as conn:
        today = conn.execute(text("select (now() at time zone 'UTC')::date")).scalar_one()
        cutoff = first_month_kept(today, keep_months)
        old = conn.execute(text(sqlfiles.read("retention/old_months.sql")), {"cutoff": cutoff})
        months = old.mappings().all()
    dropped: list[date] = []
    kept: list[date] = []
    answers = 0
    for month in months:
        if month["pending"]:
            kept.append(month["month"])
            say(f"raw month {month['month']:%Y-%m} kept: {month['pending']} answers not loaded yet")
            continue
        name = str(month["partition"])
        if not _PARTITION.fullmatch(name):  # the catalog's own name, checked all the same
            raise RuntimeError(f"unexpected partition name {name!r}")
        lower, upper = month["month"], _next_month(month["month"])
        with engine.begin() as conn:
            conn.execute(
                text(sqlfiles.read("retention/keep_shared_bytes.sql")),
                {"lower": lower, "upper": upper},
            )
            driver = conn.connection.driver_connection
            driver.execute(sql.SQL("drop table partitions.{}").format(sql.Identifier(name)))
            conn.execute(
                text(sqlfiles.read("retention/record_pruned_month.sql")),
                {"month": lower, "answers": month["answers"]},
            )
        dropped.append(lower)
        answers += int(month["answers"])
        say(f"raw month {lower:%Y-%m} deleted ({month['answers']} answers), per retention")
    return Pruned(tuple(dropped), answers, tuple(kept))
