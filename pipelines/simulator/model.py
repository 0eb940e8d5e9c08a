"""Shared pieces of the simulator: the clock, time layout, formatting and seeded randomness.

Everything here is pure apart from ``SimClock`` and ``LruCache`` (which guard their own state).
Each campaign's static plan is drawn once from its own ``random.Random(f"{seed}:{ns}:{index}")``
(never the global generator; ``ns`` is the vendor, plus the key id for accounts other than the
demo one) and its state at any instant is a function of (plan, t) alone, so statuses and
counters only move forward and the same seed and anchor give the same bytes. The
vendor-specific plans live beside their request handlers in ``nixflex`` and ``smsfactor``.
A ``DeliveryDrop`` is applied when a plan is drawn, after every other draw of it and from a
generator of its own, so a campaign no drop touches keeps the exact plan it has without drops.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
CENT = Decimal("0.01")
SPREAD = timedelta(days=6)
IN_FLIGHT_WINDOW = timedelta(hours=3)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Demo content the vendor plans draw from.
FIRST_NAMES = (
    "Sarah", "James", "Olivia", "Noah", "Amelia", "Harry", "Isla", "Jack", "Zoé", "Léo",
    "Mia", "Oscar", "Ava", "George", "Freya", "Arthur", "Chloé", "Theo", "Ella", "Max",
)  # fmt: skip


NIXFLEX_TEMPLATES = (
    ("March promotion", "Hi {{first_name}}, 20% off cleanings this month. Reply STOP to opt out."),
    ("Appointment reminder", "Hi {{first_name}}, see you tomorrow at 10:00. Reply C to confirm."),
    ("Win-back", "We miss you {{first_name}}! Book again this week & get £10 off."),
    ("Review request", "Thanks for visiting, {{first_name}}. Would you leave us a review?"),
    ("Bank holiday hours", "Hi {{first_name}}, we are closed on Monday for the bank holiday."),
)
SMSFACTOR_SENDERS = ("BESTSHOES", "CLEANPRO", "PIZZA4U", "GARAGE24", "DENTALCARE")
SMSFACTOR_TEXTS = (
    "Special offer : Buy one shoe and get the second one for free",
    "Soldes d'été : -30% sur tout le magasin & livraison offerte <ce week-end>. STOP 36180",
    "Rappel : votre rendez-vous est demain à 10h. Répondez OUI pour confirmer. STOP 36180",
    "Votre véhicule est prêt ! Retrait possible dès aujourd'hui jusqu'à 19h au garage. "
    "Pensez à apporter votre carte grise et le bon de dépôt remis lors de la prise en charge. "
    "Merci de votre confiance. STOP 36180",
)


@dataclass(frozen=True)
class DeliveryDrop:
    """Campaigns from ``sender`` whose sending starts in [``start``, ``end``) deliver
    ``points`` percentage points fewer of their messages than they would have (90 % → 60 %
    for 30 points); ``end`` None: open-ended.

    ``sender`` is a Nixflex campaign's ``from_number`` or an SMSFactor campaign's ``sender``.
    The messages taken off fail instead: on Nixflex as "failed" with Twilio's
    "30007: Message filtered" (carrier filtering), on SMSFactor in the ``error`` counter.
    Drops on the same sender whose windows hold a campaign's send start add up (at most
    every delivered message is taken off).
    """

    sender: str
    points: float
    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sender, str) or not self.sender.strip():
            raise ValueError("a delivery drop needs a non-empty sender")
        points = self.points
        if isinstance(points, bool) or not isinstance(points, int | float):
            raise ValueError(f"delivery drop points must be a number, not {points!r}")
        if not 0 < points <= 100:
            raise ValueError(f"delivery drop points must be in (0, 100], not {points!r}")
        for name, instant in (("start", self.start), ("end", self.end)):
            if instant is None and name == "end":
                continue
            if not isinstance(instant, datetime) or instant.utcoffset() is None:
                raise ValueError(f"delivery drop {name} must be a tz-aware datetime")
        if self.end is not None and self.end <= self.start:
            raise ValueError("delivery drop end must be after its start")

    def covers(self, sender: str, send_ts: float) -> bool:
        """Whether a campaign from ``sender`` starting to send at ``send_ts`` falls under it."""
        if sender != self.sender or not self.start.timestamp() <= send_ts:
            return False
        return self.end is None or send_ts < self.end.timestamp()


def drop_points(drops: Iterable[DeliveryDrop], sender: str, send_ts: float | None) -> float:
    """Points taken off a campaign's delivered share: the sum over the drops covering it
    (0 for a campaign that never sends: ``send_ts`` None or infinite)."""
    if send_ts is None or not math.isfinite(send_ts):
        return 0.0
    return float(sum(drop.points for drop in drops if drop.covers(sender, send_ts)))


def dropped(rng_key: str, delivered: int, total: int, points: float) -> int:
    """How many of ``delivered`` messages (out of ``total``) a drop of ``points`` moves to a
    failure: Binomial(delivered, min(1, points/100 / (delivered/total))) drawn from the
    campaign's own ``{rng_key}:drop`` generator, so on average ``points`` % of ``total``."""
    if points <= 0 or delivered <= 0:
        return 0
    p = min(1.0, points / 100 * total / delivered)
    return binomial(random.Random(f"{rng_key}:drop"), delivered, p)


@dataclass(frozen=True)
class Response:
    """One HTTP answer produced by a vendor handler; ``endpoint`` names it for call counting.

    ``reset`` (a "reset" fault) asks the HTTP layer to drop the connection with a TCP reset
    instead of sending anything; status, headers and body are then meaningless.
    """

    status: int
    headers: dict[str, str]
    body: bytes
    endpoint: str
    reset: bool = False


class SimClock:
    """The simulator's notion of "now", always tz-aware UTC.

    ``SimClock()`` follows the real wall clock. ``SimClock(start)``, ``set`` and ``advance``
    freeze it at an instant (manual mode) until the next ``set``/``advance``.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen = None if start is None else _utc(start)

    def now(self) -> datetime:
        """Return the current simulated instant."""
        with self._lock:
            return self._frozen if self._frozen is not None else datetime.now(UTC)

    def set(self, instant: datetime) -> None:
        """Freeze the clock at ``instant`` (must be tz-aware)."""
        with self._lock:
            self._frozen = _utc(instant)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back) by ``delta`` and freeze it there."""
        with self._lock:
            base = self._frozen if self._frozen is not None else datetime.now(UTC)
            self._frozen = base + delta


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("SimClock needs a tz-aware datetime")
    return instant.astimezone(UTC)


def iso_z(instant: datetime) -> str:
    """Format like Nixflex: ISO-8601 UTC with ``Z`` and whole seconds."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def paris_local(instant: datetime) -> str:
    """Format like SMSFactor: ``Y-m-d H:i:s`` in Europe/Paris wall-clock time, no zone."""
    return instant.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")


def whole_seconds(instant: datetime) -> datetime:
    """Drop sub-second precision (both vendors show whole seconds)."""
    return instant.replace(microsecond=0)


def campaign_rng(seed: int, vendor: str, index: int) -> random.Random:
    """The one generator a campaign's plan is drawn from (never the global ``random``)."""
    return random.Random(f"{seed}:{vendor}:{index}")


def hex_token(rng: random.Random, length: int) -> str:
    """``length`` lowercase hex characters drawn from ``rng``."""
    return f"{rng.getrandbits(4 * length):0{length}x}"


@dataclass(frozen=True)
class Layout:
    """Where each campaign index sits in time and which special role it plays."""

    created_at: tuple[datetime, ...]
    in_flight: frozenset[int]
    roles: dict[int, str]

    def slots(self) -> Iterator[tuple[int, datetime, str, bool]]:
        """(index, created_at, role, in_flight) for each campaign, oldest first."""
        for index, created in enumerate(self.created_at):
            yield index, created, self.roles.get(index, ""), index in self.in_flight


def lay_out(
    seed: int,
    vendor: str,
    count: int,
    anchor: datetime,
    specials: tuple[str, ...],
    active: int | None = None,
    history: timedelta = SPREAD,
) -> Layout:
    """Spread ``count`` creation instants over the ``history`` before ``anchor``, oldest first.

    The newest ``active`` (None: about one in six) are created 0-3 h before the anchor so they
    are still in flight at it; the others are spread evenly over the rest of ``history``.
    ``specials`` are roles handed out among the older campaigns: the first goes to the newest
    of them, the others around the middle; they are skipped when too few exist.
    """
    if history <= IN_FLIGHT_WINDOW:
        raise ValueError(f"history must be longer than {IN_FLIGHT_WINDOW}")
    if active is None:
        in_flight_n = max(1, round(count / 6)) if count >= 3 else 0
    elif active < 0:
        raise ValueError("active campaigns must be >= 0")
    else:
        in_flight_n = min(active, count)
    older_n = count - in_flight_n
    rng = random.Random(f"{seed}:{vendor}:layout")
    older_span = history - IN_FLIGHT_WINDOW
    created: list[datetime] = []
    for i in range(older_n):
        offset = older_span * ((i + rng.uniform(0.1, 0.9)) / older_n)
        created.append(whole_seconds(anchor - history + offset))
    recent_span = IN_FLIGHT_WINDOW - timedelta(minutes=2)
    for j in range(in_flight_n):
        offset = recent_span * ((j + rng.uniform(0.1, 0.9)) / in_flight_n)
        created.append(whole_seconds(anchor - IN_FLIGHT_WINDOW + offset))
    roles: dict[int, str] = {}
    if specials and older_n >= len(specials) + 2:
        middle = older_n // 2
        slots = [older_n - 1] + [middle - k for k in range(len(specials) - 1)]
        roles = dict(zip(slots, specials, strict=True))
    return Layout(tuple(created), frozenset(range(older_n, count)), roles)


def dispatch_pace(
    rng: random.Random,
    size: int,
    send_start: datetime,
    anchor: datetime,
    in_flight: bool,
    brisk: tuple[float, float] = (0.2, 1.5),
) -> float:
    """Seconds between two consecutive messages leaving the vendor.

    In-flight campaigns are paced so that dispatch ends 10-90 min after the anchor; the others
    send at a brisk pace drawn from ``brisk`` (seconds per message).
    """
    if in_flight:
        remaining = (anchor - send_start).total_seconds() + rng.uniform(600, 5400)
        return remaining / max(size, 1)
    return rng.uniform(*brisk)


def check_sizes(sizes: tuple[int, int], name: str, most: int | None = None) -> tuple[int, int]:
    """Validate a (low, high) recipient-count range; ``most`` caps ``high``."""
    low, high = sizes
    if not 1 <= low <= high or (most is not None and high > most):
        cap = "" if most is None else f" <= {most:,}"
        raise ValueError(f"{name} must be (low, high) with 1 <= low <= high{cap}")
    return low, high


def binomial(rng: random.Random, trials: int, p: float) -> int:
    """An exact Binomial(trials, p) draw by geometric jumps (about trials * p + 1 draws)."""
    if trials <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return trials
    log_q, hits, position = math.log1p(-p), 0, -1
    while True:
        position += int(math.log(1.0 - rng.random()) / log_q) + 1
        if position >= trials:
            return hits
        hits += 1


@lru_cache(maxsize=4096)
def _iso_day(day: int) -> str:
    return (EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")


def iso_epoch(seconds: int) -> str:
    """``iso_z`` for whole Unix seconds, without building a datetime (hot path)."""
    day, second = divmod(seconds, 86400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{_iso_day(day)}T{hour:02d}:{minute:02d}:{second:02d}Z"


class LruCache(Generic[K, V]):
    """A thread-safe LRU map bounded by the total ``weigh`` of its values (e.g. recipients)."""

    def __init__(self, budget: int, weigh: Callable[[V], int]) -> None:
        self._budget, self._weigh = budget, weigh
        self._lock = threading.Lock()
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._weight = 0

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The cached value for ``key``, made (outside the lock) and kept when missing."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        value = make()
        weight = max(1, self._weigh(value))
        if weight > self._budget:
            return value
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, weight)
                self._weight += weight
            while self._weight > self._budget:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def format_decimal(value: Decimal) -> str:
    """SMSFactor number style: an integer when whole, else up to two decimals (half up)."""
    text = f"{value.quantize(CENT, rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def json_body(payload: object) -> bytes:
    """Serialise a response payload as UTF-8 JSON (non-ASCII kept as is, like the vendors)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: normalise them once."""
    return {name.lower(): value for name, value in headers.items()}


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header (names already lower-cased)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def int_param(query: Mapping[str, str], name: str, default: int) -> int | None:
    """An integer query parameter, ``default`` when absent, None when not an integer."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None
