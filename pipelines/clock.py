"""The pipeline's one notion of "now".

Every polling decision and every ``fetched_at`` reads ``utcnow()`` through this module
(``clock.utcnow()``, never a bound import), so a test can move the pipeline's time together
with the simulator's by replacing this one function.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, tz-aware UTC."""
    return datetime.now(UTC)
