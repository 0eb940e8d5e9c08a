"""The pipeline's one notion of "now".

Every polling decision and every ``fetched_at`` reads ``utcnow()`` through this module
(``clock.utcnow()``, never a bound import), so a test can move the pipeline's time together
with the simulator's by replacing this one function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, tz-aware UTC."""
    return datetime.now(UTC)


@contextmanager
def following(now: Callable[[], datetime]) -> Iterator[None]:
    """Inside the block the pipeline's "now" is ``now()`` (the demo's simulated hours: its
    first sync runs as of two hours ago, on the simulator's clock)."""
    global utcnow  # this module exists to hold one replaceable "now"
    real = utcnow
    utcnow = now
    try:
        yield
    finally:
        utcnow = real
