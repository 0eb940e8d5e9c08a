"""The simulated Nixflex API: campaign plans, their state at time t, and pure request handling.

Shapes follow the vendor's documented get (``GET /v1/sms/campaigns/{id}``) and list endpoints
(docs/vendors.md).
A campaign keeps only its small static plan; its recipients are regenerated on demand from two
dedicated generators (``…:timeline`` for timing and outcome, ``…:recipients`` for phones, names
and SIDs) and kept in a bounded LRU cache. Final outcomes are tallied in the plan, so a settled
campaign's counts need no recipients at all. ``handle`` maps (path, query, account, now) to a
``Response`` with no I/O; paths are relative to the mount point ``{base}/nixflex/v1``.

A delivery drop (``DeliveryDrop``) on a campaign's ``from_number`` turns some of the recipients
that would have been delivered into filtered ones ("failed", "30007: Message filtered"), chosen
by a ``…:drop:timeline`` generator of their own, so every other recipient keeps its timing,
identity and outcome.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pipelines.simulator.model import (
    FIRST_NAMES,
    NIXFLEX_TEMPLATES,
    SPREAD,
    DeliveryDrop,
    LruCache,
    Response,
    binomial,
    campaign_rng,
    check_sizes,
    dispatch_pace,
    drop_points,
    dropped,
    hex_token,
    int_param,
    iso_epoch,
    iso_z,
    json_body,
    lay_out,
    whole_seconds,
)

DEMO_KEY = "nxf_demo:nxfs_demo_secret"
MAX_RECIPIENTS = 10_000
DEFAULT_SIZES = (20, 400)
ROLES = ("scheduled", "draft")
# How an added campaign starts (see ``NixflexAccount.add``) and the status it shows until then.
KINDS = ("immediate", "scheduled", "launched", "draft")
HOLD_STATUS = {"immediate": "", "scheduled": "scheduled", "launched": "draft", "draft": "draft"}
CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "done", "failed")
DETAIL_FIELDS = (
    "campaign_id", "name", "agent_id", "from_number", "message_template", "status",
    "total_count", "delivered_count", "failed_count", "pending_count", "source",
    "scheduled_at", "created_at", "recipients",
)  # fmt: skip
# Twilio error texts as Nixflex relays them (codes 30003, 30005, 30006, 30007).
UNDELIVERED_ERRORS = ("Unknown handset", "Unreachable handset", "Landline or unreachable carrier")
FAILED_ERRORS = ("Message filtered", "Unreachable handset", "Unknown handset")
# Final status by outcome code; a final "sent" never gets a receipt (a soft failure). Code 4,
# FILTERED, is a message a delivery drop took off: "failed" with FILTERED_ERROR.
OUTCOMES = ("delivered", "undelivered", "failed", "sent", "failed")
FILTERED = 4
FILTERED_ERROR = "30007: Message filtered"
OUTCOME_ODDS = (0.04, 0.03, 0.03)  # undelivered, failed, sent; the rest is delivered
MAX_SENT_DELAY_S = 600
MAX_RECEIPT_S = 48 * 3600
# Cache budgets, in recipients: timelines are ~25 bytes each, identities ~250.
TIMELINE_BUDGET = 1_000_000
IDENTITY_BUDGET = 100_000


def key_label(api_key: str | None) -> str:
    """The public part of a key (``KEY_ID`` of ``KEY_ID:SECRET``), safe to log or count by."""
    if not api_key:
        return ""
    key_id, colon, _ = api_key.partition(":")
    return key_id if colon else api_key[:6]


@dataclass(frozen=True, slots=True)
class NixflexCampaign:
    """A campaign's static plan; ``send_ts`` (Unix seconds) is None for a draft for ever.

    ``held`` is the status shown before ``send_ts`` ("scheduled", "draft", or "" for a
    campaign that sends at once: "running" with every recipient pending).
    """

    campaign_id: str
    name: str
    agent_id: str
    from_number: str
    message_template: str
    source: str
    created_at: datetime
    created_ts: float
    created_iso: str
    scheduled_at: datetime | None
    send_ts: float | None
    held: str
    size: int  # recipients (0 for a laid-out draft)
    pace: float  # seconds between two recipients leaving Nixflex
    # Final outcomes by code: delivered, undelivered, failed, sent, filtered (a drop's).
    tally: tuple[int, int, int, int, int]
    rng_key: str  # prefix of the recipient generators' seeds

    def elapsed(self, now_ts: float) -> float:
        """Seconds since send start (negative before it, -inf for a draft)."""
        return -math.inf if self.send_ts is None else now_ts - self.send_ts

    def settle_bound(self) -> float:
        """Elapsed seconds after which no recipient can move any more (an upper bound)."""
        return (self.size - 1) * self.pace + 2 + 1 + MAX_SENT_DELAY_S + MAX_RECEIPT_S

    def final_counts(self) -> dict[str, int]:
        """Counts once every receipt that will ever come is in."""
        return {
            "total_count": self.size,
            "delivered_count": self.tally[0],
            "failed_count": self.size - self.tally[0],
            "pending_count": 0,
        }

    def status_at(self, now_ts: float, counts: Mapping[str, int]) -> str:
        """Campaign status at ``now_ts`` given the counts computed for the same instant:
        the held status until the send start, then "running" while any recipient is pending
        or queued, then "done"."""
        if self.held and (self.send_ts is None or now_ts < self.send_ts):
            return self.held
        return "running" if counts["pending_count"] else "done"


@dataclass(frozen=True, slots=True)
class Timeline:
    """Per-recipient offsets (seconds after send start) and final outcome codes (OUTCOMES)."""

    queued: array[float]
    sent: array[float]
    final: array[float]  # inf when no receipt ever arrives (stays "sent")
    outcome: bytes
    sent_sorted: array[float]
    delivered_sorted: array[float]  # final offsets of the recipients that end delivered
    settle_s: float  # no status moves after this offset

    def counts(self, elapsed: float) -> dict[str, int]:
        """Counts by the documented rule: pending+queued pending, sent/undelivered/failed failed."""
        total = len(self.outcome)
        pending = total - bisect_right(self.sent_sorted, elapsed)
        delivered = bisect_right(self.delivered_sorted, elapsed)
        return {
            "total_count": total,
            "delivered_count": delivered,
            "failed_count": total - pending - delivered,
            "pending_count": pending,
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """Who each recipient is: phone, first name, Twilio SID and the error text if it fails."""

    phones: tuple[str, ...]
    first_names: tuple[str, ...]
    sids: tuple[str, ...]
    errors: tuple[str | None, ...]


def build_timeline(plan: NixflexCampaign) -> Timeline:
    """Regenerate a campaign's recipient timing from its own ``…:timeline`` generator."""
    rng = random.Random(f"{plan.rng_key}:timeline")
    size, pace, rnd, log = plan.size, plan.pace, rng.random, math.log
    outcome = bytearray(size)
    filtered = plan.tally[FILTERED]
    # Outcomes as they would be without a drop, then the drop's share of the delivered ones.
    failing = rng.sample(range(size), size - plan.tally[0] - filtered)
    start = 0
    for code in (1, 2, 3):
        for position in failing[start : start + plan.tally[code]]:
            outcome[position] = code
        start += plan.tally[code]
    if filtered:
        delivered = [i for i in range(size) if outcome[i] == 0]
        for position in random.Random(f"{plan.rng_key}:drop:timeline").sample(delivered, filtered):
            outcome[position] = FILTERED
    queued, sent, final = [0.0] * size, [0.0] * size, [math.inf] * size
    for i in range(size):
        queued_s = float(int(i * pace + 2 * rnd()))
        sent_s = queued_s + 1 + min(int(-6 * log(1.0 - rnd())), MAX_SENT_DELAY_S)
        queued[i], sent[i] = queued_s, sent_s
        if outcome[i] != 3:
            late = rnd() < 0.01
            receipt = 1800 + rnd() * (MAX_RECEIPT_S - 1800) if late else 60 + rnd() * 1740
            final[i] = float(int(sent_s + receipt))
    finite = [value for value in final if value != math.inf]
    delivered = [final[i] for i in range(size) if outcome[i] == 0]
    return Timeline(
        queued=array("d", queued),
        sent=array("d", sent),
        final=array("d", final),
        outcome=bytes(outcome),
        sent_sorted=array("d", sorted(sent)),
        delivered_sorted=array("d", sorted(delivered)),
        settle_s=max(finite + sent, default=0.0),
    )


def build_identity(plan: NixflexCampaign, timeline: Timeline) -> Identity:
    """Regenerate a campaign's phones, names, SIDs and errors from its ``…:recipients`` one."""
    rng = random.Random(f"{plan.rng_key}:recipients")
    numbers = rng.sample(range(10**8), plan.size)
    names = rng.choices(FIRST_NAMES, k=plan.size)
    bits = rng.getrandbits
    sids = [f"SM{bits(128):032x}" for _ in range(plan.size)]
    errors: list[str | None] = []
    for code in timeline.outcome:
        if code in (0, 3):
            errors.append(None)
        elif code == FILTERED:  # a fixed text: the generator draws as for a delivered one
            errors.append(FILTERED_ERROR)
        else:
            errors.append(rng.choice(UNDELIVERED_ERRORS if code == 1 else FAILED_ERRORS))
    return Identity(
        # UK mobile numbers (07 1xx xxx xxx), a range the numbering plan assigns in full:
        # each names a country (GB), as real recipients' numbers do.
        phones=tuple(f"+4471{number:08d}" for number in numbers),
        first_names=tuple(names),
        sids=tuple(sids),
        errors=tuple(errors),
    )


def nixflex_agents(seed: int, namespace: str = "nixflex") -> list[tuple[str, str]]:
    """The account's agents as (agent_id, from_number); campaigns are spread over them."""
    rng = random.Random(f"{seed}:{namespace}:agents")
    return [(f"agent_{hex_token(rng, 16)}", f"+4474{rng.randrange(10**8):08d}") for _ in range(3)]


class RecipientCache:
    """Bounded LRU caches of regenerated timelines and identities, shared by all accounts."""

    def __init__(
        self, timeline_budget: int = TIMELINE_BUDGET, identity_budget: int = IDENTITY_BUDGET
    ) -> None:
        self._timelines: LruCache[str, Timeline] = LruCache(
            timeline_budget, lambda t: len(t.outcome)
        )
        self._identities: LruCache[str, Identity] = LruCache(
            identity_budget, lambda i: len(i.phones)
        )

    def timeline(self, plan: NixflexCampaign) -> Timeline:
        """The campaign's timeline, regenerated when not cached."""
        return self._timelines.get_or_make(plan.campaign_id, lambda: build_timeline(plan))

    def identity(self, plan: NixflexCampaign) -> Identity:
        """The campaign's recipients' identities, regenerated when not cached."""
        timeline = self.timeline(plan)
        return self._identities.get_or_make(
            plan.campaign_id, lambda: build_identity(plan, timeline)
        )


@dataclass(frozen=True)
class _View:
    newest: tuple[NixflexCampaign, ...]  # newest first: by (created_at, index) descending
    minus_created: tuple[float, ...]  # -created_ts in the same order (ascending), for bisect


class NixflexAccount:
    """One API key's campaigns: plans sorted newest first, lookups and settled counts."""

    def __init__(
        self,
        api_key: str,
        seed: int,
        anchor: datetime,
        cache: RecipientCache,
        taken_ids: set[str],
        namespace: str = "nixflex",
        sizes: tuple[int, int] = DEFAULT_SIZES,
        drops: Sequence[DeliveryDrop] = (),
    ) -> None:
        self.api_key, self.label = api_key, key_label(api_key)
        # Read whenever a plan is drawn: the simulator passes its own (growing) list.
        self.drops = drops
        self.seed, self.anchor, self.namespace = seed, anchor, namespace
        self.sizes = check_sizes(sizes, "nixflex sizes", MAX_RECIPIENTS)
        self.cache, self._taken = cache, taken_ids
        self._agents = nixflex_agents(seed, namespace)
        self._lock = threading.Lock()
        self._plans: list[NixflexCampaign] = []
        self._by_id: dict[str, NixflexCampaign] = {}
        self._settled: dict[str, tuple[float, dict[str, int]]] = {}  # (settle offset, counts)
        self._view = _View((), ())

    def lay_out(
        self, count: int, active: int | None = None, history: timedelta = SPREAD
    ) -> list[str]:
        """Generate ``count`` campaigns around the anchor; return their ids newest first."""
        layout = lay_out(self.seed, self.namespace, count, self.anchor, ROLES, active, history)
        with self._lock:
            base = len(self._plans)
            plans = [
                self._build(base + index, created, role, in_flight)
                for index, created, role, in_flight in layout.slots()
            ]
            self._extend(plans)
        order = sorted(enumerate(plans), key=lambda pair: (pair[1].created_ts, pair[0]))
        return [plan.campaign_id for _, plan in reversed(order)]

    def add(
        self,
        size: int,
        created_at: datetime,
        *,
        kind: str = "immediate",
        send_at: datetime | None = None,
        from_number: str | None = None,
    ) -> str:
        """Add one campaign of ``kind`` (see ``KINDS``); return its id.

        "immediate" sends at ``send_at`` (default: 2-30 s after creation; "running" with every
        recipient pending until then); "scheduled" shows "scheduled" with ``scheduled_at`` set
        until ``send_at``; "launched" is a draft until ``send_at``, its launch, then sends;
        "draft" never sends (its recipients stay pending). ``send_at`` may not precede
        ``created_at``. ``from_number`` picks the agent sending from it (default: drawn).
        """
        check_sizes((size, size), "size", MAX_RECIPIENTS)
        if from_number is not None and from_number not in self.senders():
            raise ValueError(
                f"no agent of Nixflex key id {self.label!r} sends from {from_number!r}; "
                f"its senders are {', '.join(self.senders())}"
            )
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if kind == "draft" and send_at is not None:
            raise ValueError("a draft for ever has no send_at")
        if kind in ("scheduled", "launched") and send_at is None:
            raise ValueError(f"a {kind} campaign needs send_at")
        if send_at is not None and send_at < created_at:
            raise ValueError("send_at must not precede created_at")
        with self._lock:
            plan = self._build(
                len(self._plans),
                created_at,
                size=size,
                kind=kind,
                send_at=send_at,
                from_number=from_number,
            )
            self._extend([plan])
        return plan.campaign_id

    def senders(self) -> list[str]:
        """The from_numbers of the account's agents, in agent order."""
        return [from_number for _, from_number in self._agents]

    def campaign_ids(self) -> list[str]:
        """Every campaign id, newest first (including ones not created yet at "now")."""
        return [plan.campaign_id for plan in self._view.newest]

    def visible(self, now_ts: float) -> tuple[NixflexCampaign, ...]:
        """Campaigns created at or before ``now_ts``, newest first."""
        view = self._view
        return view.newest[bisect_left(view.minus_created, -now_ts) :]

    def find(self, campaign_id: str, now_ts: float) -> NixflexCampaign | None:
        """The account's campaign ``campaign_id`` if it exists at ``now_ts``."""
        plan = self._by_id.get(campaign_id)
        return plan if plan is not None and plan.created_ts <= now_ts else None

    def counts(self, plan: NixflexCampaign, now_ts: float) -> dict[str, int]:
        """Counts at ``now_ts``; once past its settle instant a campaign's are cached."""
        elapsed = plan.elapsed(now_ts)
        settled = self._settled.get(plan.campaign_id)
        if settled is not None and elapsed >= settled[0]:  # the clock may also go back
            return dict(settled[1])
        if plan.size == 0 or elapsed >= plan.settle_bound():
            settle_s, counts = plan.settle_bound(), plan.final_counts()
        else:
            timeline = self.cache.timeline(plan)
            settle_s, counts = timeline.settle_s, timeline.counts(elapsed)
            if elapsed < settle_s:
                return counts
        self._settled[plan.campaign_id] = (settle_s, counts)
        return dict(counts)

    def _extend(self, plans: list[NixflexCampaign]) -> None:
        self._plans.extend(plans)
        self._by_id.update((plan.campaign_id, plan) for plan in plans)
        order = sorted(range(len(self._plans)), key=lambda i: (self._plans[i].created_ts, i))
        newest = tuple(self._plans[i] for i in reversed(order))
        self._view = _View(newest, tuple(-plan.created_ts for plan in newest))

    def _build(
        self,
        index: int,
        created_at: datetime,
        role: str = "",
        in_flight: bool = False,
        size: int | None = None,
        kind: str = "",
        send_at: datetime | None = None,
        from_number: str | None = None,
    ) -> NixflexCampaign:
        """Draw campaign ``index``'s plan; ``role`` ("", "draft" or "scheduled") is a laid-out
        campaign's, ``kind``, ``send_at`` and ``from_number`` an added one's (see ``add``).
        A delivery drop covering it is applied last, from its own generator."""
        rng = campaign_rng(self.seed, self.namespace, index)
        rng_key = f"{self.seed}:{self.namespace}:{index}"
        campaign_id = self._new_id(rng_key)
        name, template = rng.choice(NIXFLEX_TEMPLATES)
        agent_id, drawn_number = rng.choice(self._agents)
        if from_number is None:
            from_number = drawn_number
        else:
            agent_id = next(agent for agent, number in self._agents if number == from_number)
        source = rng.choice(("dashboard", "api"))
        size = size if size is not None else rng.randint(*self.sizes)
        scheduled_at = None
        send_start = created_at + timedelta(seconds=rng.randint(2, 30))
        if role == "scheduled":
            send_start = whole_seconds(self.anchor + timedelta(hours=rng.uniform(2, 30)))
            scheduled_at = send_start
        if send_at is not None:
            send_start = whole_seconds(send_at)
            scheduled_at = send_start if kind == "scheduled" else None
        # size - 1 gaps: the last recipient leaves at the paced end, after the anchor.
        pace = dispatch_pace(rng, max(size - 1, 1), send_start, self.anchor, in_flight)
        send_ts = None if "draft" in (role, kind) else send_start.timestamp()
        if role == "draft":
            size, tally = 0, (0, 0, 0, 0, 0)
        else:
            undelivered = binomial(rng, size, OUTCOME_ODDS[0])
            failed = binomial(rng, size - undelivered, OUTCOME_ODDS[1] / (1 - OUTCOME_ODDS[0]))
            rest = size - undelivered - failed
            sent = binomial(rng, rest, OUTCOME_ODDS[2] / (1 - sum(OUTCOME_ODDS[:2])))
            delivered = rest - sent
            points = drop_points(self.drops, from_number, send_ts)
            filtered = dropped(rng_key, delivered, size, points)
            tally = (delivered - filtered, undelivered, failed, sent, filtered)
        return NixflexCampaign(
            campaign_id=campaign_id,
            name=name,
            agent_id=agent_id,
            from_number=from_number,
            message_template=template,
            source=source,
            created_at=created_at,
            created_ts=created_at.timestamp(),
            created_iso=iso_z(created_at),
            scheduled_at=scheduled_at,
            send_ts=send_ts,
            held=HOLD_STATUS[kind] if kind else HOLD_STATUS.get(role, ""),
            size=size,
            pace=pace,
            tally=tally,
            rng_key=rng_key,
        )

    def _new_id(self, rng_key: str) -> str:
        """A campaign id no account has used (8 hex digits collide now and then at 10k+)."""
        for attempt in range(100):
            salt = rng_key if attempt == 0 else f"{rng_key}:{attempt}"
            candidate = f"smsc_{hashlib.sha256(salt.encode()).hexdigest()[:8]}"
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate
        raise RuntimeError("could not draw a free campaign id")


def endpoint_for(path: str) -> str:
    """Name the endpoint a path addresses: "list", "get" or "unknown"."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["sms", "campaigns"] and len(parts) in (2, 3):
        return "list" if len(parts) == 2 else "get"
    return "unknown"


def handle(
    path: str,
    query: Mapping[str, str],
    account: NixflexAccount | None,
    now: datetime,
    miscounted: Collection[str] = (),
) -> Response:
    """Answer one GET request for ``account`` (None: the key was not recognised)."""
    endpoint = endpoint_for(path)
    if account is None:
        return _error(endpoint, 401, "authentication_error", "invalid_api_key", "Invalid API key.")
    now_ts = now.timestamp()
    if endpoint == "list":
        return _list(query, account, now_ts, miscounted)
    if endpoint == "get":
        campaign_id = path.rstrip("/").rsplit("/", 1)[-1]
        plan = account.find(campaign_id, now_ts)
        if plan is not None:
            detail = _detail(account, plan, now_ts, campaign_id in miscounted)
            return _json("get", 200, detail)
        message = f"Campaign {campaign_id} does not exist or is not yours."
        return _error("get", 404, "not_found", "campaign_not_found", message)
    return _error(endpoint, 404, "not_found", "route_not_found", f"No route for {path}.")


def rate_limited(retry_after: int, headers: Mapping[str, str]) -> Response:
    """The documented 429: ``rate_limit_exceeded`` with ``Retry-After`` and its details."""
    message = f"Rate limit exceeded. Retry after {retry_after} seconds."
    response = _error(
        "rate_limited",
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
        message,
        {"retry_after": retry_after},
    )
    response.headers.update(headers)
    response.headers["Retry-After"] = str(retry_after)
    return response


# Error type and code by HTTP status, from the documented envelope's type → HTTP table.
FAULT_ERRORS = {
    400: ("invalid_request", "invalid_parameter", "The request is invalid."),
    401: ("authentication_error", "invalid_api_key", "Invalid API key."),
    403: ("permission_error", "forbidden", "This key may not access this resource."),
    404: ("not_found", "route_not_found", "Not found."),
    409: ("conflict", "conflict", "The resource changed meanwhile."),
    500: ("server_error", "internal_error", "Internal server error."),
    502: ("provider_error", "provider_unavailable", "The SMS provider did not answer."),
    503: ("server_error", "service_unavailable", "Service temporarily unavailable."),
}


def status_error(endpoint: str, status: int) -> Response:
    """An error answer for a forced HTTP ``status`` in the documented Nixflex envelope.

    A 404 on the detail endpoint is ``campaign_not_found`` as the seed shows; a 429 is the
    documented ``rate_limit_exceeded`` asking for a 1 s wait. Statuses the docs do not name
    fall back to ``invalid_request`` (4xx) or ``server_error`` (5xx).
    """
    if status == 429:
        return replace(rate_limited(1, {}), endpoint=endpoint)
    if status == 404 and endpoint == "get":
        message = "Campaign does not exist or is not yours."
        return _error(endpoint, 404, "not_found", "campaign_not_found", message)
    fallback = FAULT_ERRORS[400 if status < 500 else 500]
    error_type, code, message = FAULT_ERRORS.get(status, fallback)
    return _error(endpoint, status, error_type, code, message)


def _list(
    query: Mapping[str, str],
    account: NixflexAccount,
    now_ts: float,
    miscounted: Collection[str],
) -> Response:
    limit, offset = int_param(query, "limit", 25), int_param(query, "offset", 0)
    status, agent_id = query.get("status") or None, query.get("agent_id") or None
    if limit is None or not 1 <= limit <= 100:
        return _invalid("limit must be an integer between 1 and 100.", "limit")
    if offset is None or offset < 0:
        return _invalid("offset must be a non-negative integer.", "offset")
    if status is not None and status not in CAMPAIGN_STATUSES:
        return _invalid(f"status must be one of {', '.join(CAMPAIGN_STATUSES)}.", "status")
    newest_first = account.visible(now_ts)
    if agent_id is not None:
        newest_first = tuple(plan for plan in newest_first if plan.agent_id == agent_id)
    if status is None:  # only the page needs counting
        page = [
            _summary(account, plan, now_ts, plan.campaign_id in miscounted)
            for plan in newest_first[offset : offset + limit]
        ]
        return _json("list", 200, {"campaigns": page, "count": len(newest_first)})
    summaries = [_summary(account, c, now_ts, c.campaign_id in miscounted) for c in newest_first]
    summaries = [summary for summary in summaries if summary["status"] == status]
    page = summaries[offset : offset + limit]
    return _json("list", 200, {"campaigns": page, "count": len(summaries)})


def _summary(
    account: NixflexAccount, plan: NixflexCampaign, now_ts: float, miscounted: bool
) -> dict[str, object]:
    counts = account.counts(plan, now_ts)
    status = plan.status_at(now_ts, counts)
    if miscounted:  # planted vendor inconsistency: counts disagree with the recipients
        counts["delivered_count"] += 1
        counts["failed_count"] -= 1
    return {
        "campaign_id": plan.campaign_id,
        "name": plan.name,
        "agent_id": plan.agent_id,
        "from_number": plan.from_number,
        "status": status,
        **counts,
        "source": plan.source,
        "created_at": plan.created_iso,
    }


def _detail(
    account: NixflexAccount, plan: NixflexCampaign, now_ts: float, miscounted: bool
) -> dict[str, object]:
    summary = _summary(account, plan, now_ts, miscounted)
    fields = {**summary, "message_template": plan.message_template}
    scheduled_at = None if plan.scheduled_at is None else iso_z(plan.scheduled_at)
    fields.update(scheduled_at=scheduled_at, recipients=_recipients(account, plan, now_ts))
    return {key: fields[key] for key in DETAIL_FIELDS}


def _recipients(
    account: NixflexAccount, plan: NixflexCampaign, now_ts: float
) -> list[dict[str, object]]:
    """Each recipient as Nixflex shows it at ``now_ts`` (the hot path of a 10k detail)."""
    if plan.size == 0:
        return []
    timeline, identity = account.cache.timeline(plan), account.cache.identity(plan)
    # A draft for ever has no send start: elapsed is -inf and every recipient stays pending.
    elapsed, send_ts = plan.elapsed(now_ts), int(plan.send_ts or 0)
    template = plan.message_template
    rendered = {name: template.replace("{{first_name}}", name) for name in FIRST_NAMES}
    recipients: list[dict[str, object]] = []
    append = recipients.append
    rows = zip(
        timeline.queued,
        timeline.sent,
        timeline.final,
        timeline.outcome,
        identity.phones,
        identity.first_names,
        identity.sids,
        identity.errors,
        strict=True,
    )
    for queued_s, sent_s, final_s, code, phone, first_name, sid, error in rows:
        if elapsed < sent_s:
            status = "pending" if elapsed < queued_s else "queued"
        else:
            status = "sent" if elapsed < final_s else OUTCOMES[code]
        recipient: dict[str, object] = {
            "phone": phone,
            "variables": {"first_name": first_name},
            "status": status,
            "twilio_sid": None if status == "pending" else sid,
            "rendered_message": rendered[first_name],
        }
        if status in ("undelivered", "failed"):
            recipient["error_message"] = error
        recipient["sent_at"] = None if elapsed < sent_s else iso_epoch(send_ts + int(sent_s))
        append(recipient)
    return recipients


def _json(endpoint: str, status: int, payload: object) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json_body(payload), endpoint)


def _invalid(message: str, param: str) -> Response:
    return _error("list", 400, "invalid_request", "invalid_parameter", message, {"param": param})


def _error(
    endpoint: str,
    status: int,
    error_type: str,
    code: str,
    message: str,
    details: dict[str, object] | None = None,
) -> Response:
    error = {
        "type": error_type,
        "code": code,
        "message": message,
        "doc_url": f"https://docs.nixflex.com/errors/{code}",
        "details": details or {},
    }
    return _json(endpoint, status, {"error": error})
