"""Rebuild the ``sms`` relations from the raw landing alone, without calling any vendor.

Everything the loader writes is derived from ``raw.vendor_response``, so a replay is: forget
what was derived (one statement, ``sql/replay/reset_<scope>.sql``), mark those answers
pending, and run the loader over them, all under the load lock so that no sync loads in
between. Scope ``all`` rebuilds every fact; scope ``quarantined`` reads again only what was
quarantined or flagged, which is how a fixed parser is applied to it.

A replay that fails midway leaves the answers it had not reached pending: the
``raw_response_loaded_or_quarantined`` check names them, and running the replay again (or
the next sync's load) finishes the work. Once raw retention (``RAW_RETENTION_MONTHS``) has
deleted answers, a full replay refuses to start (it would lose the facts they made);
scope ``quarantined`` still works on what is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import Engine, text

from pipelines.warehouse import sqlfiles
from pipelines.warehouse.lanes import load_pending, one_load_at_a_time
from pipelines.warehouse.loader import SETTLE_WINDOW, LoadStats
from pipelines.warehouse.privacy import AS_RECEIVED, Privacy

PROVIDERS = ("nixflex", "smsfactor")


class ReplayScope(StrEnum):
    """What a replay reads again."""

    ALL = "all"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class ReplayReport:
    scope: ReplayScope
    provider: str | None
    answers_marked: int
    load: LoadStats


class ReplayRefused(RuntimeError):
    """A replay that would lose facts: what was deleted cannot be read again."""


def refuse_if_pruned(engine: Engine) -> None:
    """A full replay forgets every fact and reads raw again: once raw retention has deleted
    answers, the facts made from them would be lost, so it does not start."""
    with engine.connect() as conn:
        months = conn.execute(text(sqlfiles.read("replay/pruned_months.sql"))).scalars().all()
    if months:
        raise ReplayRefused(
            f"raw answers of {len(months)} months ({months[0]:%Y-%m} to {months[-1]:%Y-%m}) "
            "were deleted by RAW_RETENTION_MONTHS: a full replay would lose the facts they "
            "made, so it was not started. Replay scope 'quarantined' still works."
        )


def replay(
    engine: Engine,
    scope: ReplayScope = ReplayScope.ALL,
    provider: str | None = None,
    progress: Callable[[str], None] | None = None,
    settle_window: timedelta = SETTLE_WINDOW,
    privacy: Privacy = AS_RECEIVED,
) -> ReplayReport:
    """Replay ``scope`` (of one provider, or both) from raw; see the module."""
    if provider is not None and provider not in PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(PROVIDERS)} or None")
    scope = ReplayScope(scope)
    say = progress or (lambda _: None)
    with one_load_at_a_time(engine, progress):  # retention prunes under it too
        if scope == ReplayScope.ALL:
            refuse_if_pruned(engine)
        with engine.begin() as conn:
            marked = int(
                conn.execute(
                    text(sqlfiles.read(f"replay/reset_{scope.value}.sql")), {"provider": provider}
                ).scalar_one()
            )
        which = provider or "both vendors"
        say(f"replay of {scope.value} ({which}): {marked} answers to read again from raw")
        stats = load_pending(
            engine, provider, progress, settle_window, exclusive=False, privacy=privacy
        )
    say(f"replay finished: {stats.as_dict()}")
    return ReplayReport(scope, provider, marked, stats)
