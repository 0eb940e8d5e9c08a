"""Client-side rate limiting for one API key, shared by every thread that uses the key.

Two things decide when the next request may leave:

* **pacing**: requests are spaced evenly at a little under the documented rate (Nixflex: 600
  GET/min per key), so a long backfill runs close to the limit without bursting past it;
* **the vendor's own word**: after every answer the limiter reads ``X-RateLimit-Limit``
  (adopting a different limit than documented), ``X-RateLimit-Remaining`` and
  ``X-RateLimit-Reset`` (once the budget left does not cover the requests already in flight,
  nothing more leaves until the window resets) and, on a 429, ``Retry-After``.

No library does the second part (generic token buckets do not read a vendor's headers), and
the first is a few lines, so both live here.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_HEADER_WAIT = 120.0  # never trust a reset further away than this (clock skew, bad header)


class RateLimiter:
    """Pace requests for one key: ``acquire()`` before sending, ``release()`` with the answer."""

    def __init__(
        self, per_window: int | None = None, *, window: float = 60.0, headroom: float = 0.02
    ) -> None:
        self._window, self._headroom = window, headroom
        self._limit = per_window
        self._interval = self._spacing(per_window)
        self._cond = threading.Condition()
        self._next_slot = 0.0
        self._blocked_until = 0.0
        self._remaining: int | None = None
        self._reset_at = 0.0
        self._in_flight = 0
        self.throttled = 0  # 429 answers seen (each was waited out and retried)

    def _spacing(self, limit: int | None) -> float:
        return self._window / (limit * (1 - self._headroom)) if limit else 0.0

    @property
    def limit(self) -> int | None:
        """Requests allowed per window, as documented or as the vendor last said."""
        return self._limit

    def acquire(self) -> None:
        """Block until a request may leave, then count it as in flight."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._remaining is not None and now >= self._reset_at:
                    self._remaining = None  # the window the count belonged to is over
                ready = max(self._blocked_until, self._next_slot)
                if self._remaining is not None and self._remaining <= self._in_flight:
                    ready = max(ready, self._reset_at)
                if ready <= now:
                    break
                self._cond.wait(ready - now)
            self._next_slot = max(now, self._next_slot) + self._interval
            self._in_flight += 1

    def release(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """Count the request as answered and learn from the answer's headers."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            if headers:
                self._learn(status, headers)
            self._cond.notify_all()

    def _learn(self, status: int | None, headers: Mapping[str, str]) -> None:
        now, wall = time.monotonic(), time.time()
        limit = _header_count(headers.get("x-ratelimit-limit"))
        if limit and limit != self._limit:
            self._limit, self._interval = limit, self._spacing(limit)
        remaining = _header_count(headers.get("x-ratelimit-remaining"))
        reset = _header_count(headers.get("x-ratelimit-reset"))
        if remaining is not None and reset is not None:
            self._remaining = remaining
            self._reset_at = now + min(max(reset - wall, 0.0), MAX_HEADER_WAIT)
        if status == 429:
            self.throttled += 1
            hint = retry_after_seconds(headers.get("retry-after"))
            pause = hint if hint is not None else 1.0
            self._blocked_until = max(self._blocked_until, now + min(pause, MAX_HEADER_WAIT))


def _header_count(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


_REGISTRY: dict[tuple[str, str], RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(provider: str, secret: str, per_window: int | None) -> RateLimiter:
    """The process-wide limiter of one API key (keyed by a hash: the secret is not kept)."""
    key = (provider, hashlib.sha256(secret.encode()).hexdigest())
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            _REGISTRY[key] = RateLimiter(per_window)
        return _REGISTRY[key]


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
