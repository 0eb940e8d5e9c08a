"""Server-side rate limiting as the vendors would apply it, plus forced throttling for tests.

Windows are fixed, ``window`` seconds of real time (``time.time``, never the simulated clock,
which tests freeze) aligned on multiples of ``window`` since the epoch, one budget per
(vendor, key). The served-request counts per window double as the record a benchmark reads
its peak from.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """Whether one request may be served; the numbers behind the rate-limit headers."""

    allowed: bool
    limit: int | None  # None: no limit applies
    remaining: int  # requests left in the window after this one
    reset: int  # Unix time the window ends, rounded up
    retry_after: int  # whole seconds to wait when not allowed (0 when allowed)


class RateLimiter:
    """Fixed-window budgets per (vendor, key) and a queue of forced 429s per vendor."""

    def __init__(
        self,
        limits: Mapping[str, int | None],
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window <= 0:
            raise ValueError("the rate window must be positive")
        for vendor, limit in limits.items():
            if limit is not None and limit < 1:
                raise ValueError(f"{vendor} rate limit must be >= 1 or None")
        self.window = window
        self._limits = dict(limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._served: Counter[tuple[str, str, int]] = Counter()  # (vendor, key, window index)
        self._forced: dict[str, deque[int]] = {}

    def admit(self, vendor: str, key: str) -> Decision:
        """Decide on one request by ``key`` to ``vendor`` and count it when served."""
        now = self._clock()
        limit = self._limits.get(vendor)
        with self._lock:
            forced = self._forced.get(vendor)
            if forced:
                retry_after = forced.popleft()
                return Decision(False, limit, 0, math.ceil(now) + retry_after, retry_after)
            index = math.floor(now / self.window)
            end = (index + 1) * self.window
            used = self._served[(vendor, key, index)]
            if limit is not None and used >= limit:
                retry_after = max(1, math.ceil(end - now))
                return Decision(False, limit, 0, math.ceil(end), retry_after)
            self._served[(vendor, key, index)] = used + 1
        remaining = 0 if limit is None else limit - used - 1
        return Decision(True, limit, remaining, math.ceil(end), 0)

    def charge(self, vendor: str, key: str) -> None:
        """Count one request whose answer a fault replaced against ``key``'s window.

        Never refuses and leaves the forced 429s queued (the fault is the answer); a full
        window stays full rather than overflowing, so the peak never exceeds the limit.
        """
        now = self._clock()
        limit = self._limits.get(vendor)
        with self._lock:
            slot = (vendor, key, math.floor(now / self.window))
            if limit is None or self._served[slot] < limit:
                self._served[slot] += 1

    def throttle_next(self, vendor: str, n: int, retry_after: int) -> None:
        """Answer the next ``n`` requests to ``vendor`` (any key) 429 whatever the window."""
        if n < 0 or retry_after < 0:
            raise ValueError("n and retry_after must be >= 0")
        with self._lock:
            self._forced.setdefault(vendor, deque()).extend([retry_after] * n)

    def peak(self, vendor: str) -> int:
        """The most requests one key had served within one window (0 before any)."""
        with self._lock:
            return max(
                (count for (name, _, _), count in self._served.items() if name == vendor),
                default=0,
            )
