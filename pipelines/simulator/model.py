"""Shared pieces of the simulator: the clock, time layout, formatting and seeded randomness.

Everything here is pure apart from ``SimClock`` (which only guards its own instant). Each
campaign's static plan is drawn once from its own ``random.Random(f"{seed}:{vendor}:{index}")``
(never the global generator) and its state at any instant is a function of (plan, t) alone,
so statuses and counters only move forward and the same seed and anchor give the same bytes.
The vendor-specific plans live beside their request handlers in ``nixflex`` and ``smsfactor``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
CENT = Decimal("0.01")
SPREAD = timedelta(days=6)
IN_FLIGHT_WINDOW = timedelta(hours=3)

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
class Response:
    """One HTTP answer produced by a vendor handler; ``endpoint`` names it for call counting."""

    status: int
    headers: dict[str, str]
    body: bytes
    endpoint: str


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
    seed: int, vendor: str, count: int, anchor: datetime, specials: tuple[str, ...]
) -> Layout:
    """Spread ``count`` creation instants over the 6 days before ``anchor``, oldest first.

    About one in six (the newest) are created 0-3 h before the anchor so they are still in
    flight at it. ``specials`` are roles handed out among the older campaigns: the first goes
    to the newest of them, the others around the middle; they are skipped when too few exist.
    """
    in_flight_n = max(1, round(count / 6)) if count >= 3 else 0
    older_n = count - in_flight_n
    rng = random.Random(f"{seed}:{vendor}:layout")
    older_span = SPREAD - IN_FLIGHT_WINDOW
    created: list[datetime] = []
    for i in range(older_n):
        offset = older_span * ((i + rng.uniform(0.1, 0.9)) / older_n)
        created.append(whole_seconds(anchor - SPREAD + offset))
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
