"""The simulated SMSFactor API: campaign plans, counters at time t, and pure request handling.

Shapes follow the vendor's documented ``GET /campaign/{id}`` and history endpoint (docs/vendors.md):
``campaign`` is an array of one, every campaign number is a string, dates are Europe/Paris
wall-clock ``Y-m-d H:i:s``, errors come in the body (HTTP 200 except for authentication), and
XML is the default format: JSON only when ``Accept`` mentions json. Paths are relative to the
mount point ``{base}/smsfactor``. A delivery drop (``DeliveryDrop``) on a campaign's sender moves
some of its final ``delivered`` to ``error``, drawn after the rest of its plan from a generator
of its own.
"""

from __future__ import annotations

import math
import random
import threading
from bisect import insort
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from http import HTTPStatus

from pipelines.simulator.model import (
    SMSFACTOR_SENDERS,
    SMSFACTOR_TEXTS,
    SPREAD,
    DeliveryDrop,
    Response,
    campaign_rng,
    check_sizes,
    dispatch_pace,
    drop_points,
    dropped,
    format_decimal,
    hex_token,
    int_param,
    json_body,
    lay_out,
    paris_local,
    whole_seconds,
)

DEMO_TOKEN = "sf_demo_token"
FIRST_ID = 18969398
ID_STRIDE = 37  # each account owns one residue modulo this: ids interleave, never collide
DEFAULT_SIZES = (50, 3000)
ROLES = ("waiting", "denied", "moderation")
SORT_KEYS = ("id", "date", "text", "cost", "status")
COUNTERS = ("delivered", "error", "expired", "network_error", "stop")


def token_label(api_token: str | None) -> str:
    """The first 6 characters of a token: enough to tell accounts apart, never the secret."""
    return (api_token or "")[:6]


@dataclass(frozen=True, slots=True)
class SmsfactorCampaign:
    """A campaign's static plan; ``finals`` are the counters once every report is in.

    ``send_ts`` is the send date the vendor shows (``date``); a campaign held in moderation
    until ``held_until_ts`` (inf: for ever) past that date sends at release, so dispatch
    starts at ``start_ts`` = the later of the two while ``date`` keeps the requested one.
    """

    campaign_id: str
    number: int  # the id as an integer, for sorting
    sender: str
    text: str
    created_at: datetime
    created_ts: float
    creation_date: str  # as shown: Paris wall clock
    send_ts: float
    date: str  # send date as shown: Paris wall clock
    start_ts: float  # dispatch start: the send date, or the moderation release if later
    held_until_ts: float  # "In moderation" before this (-inf: never held, inf: for ever)
    lists: tuple[str, ...]
    role: str  # "", "waiting", "denied" or "moderation"
    total: int
    npai: int
    finals: tuple[tuple[str, int], ...]  # (counter, final value) in COUNTERS order
    dispatch_s: float
    settle_s: float
    unit_cost: Decimal

    def state_at(self, now_ts: float) -> dict[str, object]:
        """The campaign as the vendor shows it at ``now_ts``: status and string counters."""
        elapsed = now_ts - self.start_ts
        counters = dict.fromkeys(COUNTERS, 0)
        npai, cost = 0, Decimal(0)
        if self.role == "denied":
            status = "Denied"
        elif now_ts < self.held_until_ts:
            status = "In moderation"
        elif now_ts < self.send_ts:
            status = "Waiting"
        else:
            status = "In progress" if elapsed < self.dispatch_s else "Sent"
            window = self.dispatch_s + self.settle_s
            for name, final in self.finals:
                # Expiry reports come last; stop replies trickle in for hours.
                start = self.settle_s / 2 if name == "expired" else 0.0
                span = window + 6 * 3600 if name == "stop" else window - start
                progress = min(1.0, max(0.0, (elapsed - start) / span))
                counters[name] = int(final * (1 - (1 - progress) ** 2))
            npai, cost = self.npai, (self.total - self.npai) * self.unit_cost
        rate = Decimal(counters["delivered"] * 100) / self.total if self.total else Decimal(0)
        return {
            "id": self.campaign_id,
            "sender": self.sender,
            "text": self.text,
            "creation_date": self.creation_date,
            "date": self.date,
            "cost": format_decimal(cost),
            "lists": [{"id": list_id} for list_id in self.lists],
            "status": status,
            "delivery_rate": format_decimal(rate),
            **{name: str(value) for name, value in counters.items()},
            "npai": str(npai),
            "total": str(self.total),
        }


class SmsfactorAccount:
    """One API token's campaigns in numeric id order.

    Drawn ids grow with the campaign index (``FIRST_ID + ID_STRIDE * index + residue``, the
    next free one when an explicit id took it); an added campaign may carry any explicit id,
    so ids need not follow creation or send dates. ``taken`` holds the ids every account of
    the simulator uses (campaign ids are global at the vendor).
    """

    def __init__(
        self,
        api_token: str,
        seed: int,
        anchor: datetime,
        residue: int,
        namespace: str = "smsfactor",
        sizes: tuple[int, int] = DEFAULT_SIZES,
        taken: set[int] | None = None,
        drops: Sequence[DeliveryDrop] = (),
    ) -> None:
        if not 0 <= residue < ID_STRIDE:
            raise ValueError(f"residue must be in [0, {ID_STRIDE})")
        self.api_token, self.label = api_token, token_label(api_token)
        self.seed, self.anchor, self.namespace = seed, anchor, namespace
        self.residue = residue
        self.sizes = check_sizes(sizes, "smsfactor sizes")
        pool_rng = random.Random(f"{seed}:{namespace}:lists")
        self._list_pool = [hex_token(pool_rng, 24) for _ in range(4)]
        self._lock = threading.Lock()
        self._taken = taken if taken is not None else set()
        # Read whenever a plan is drawn: the simulator passes its own (growing) list.
        self.drops = drops
        self._count = 0  # campaigns built: the next one's index
        self._plans: tuple[SmsfactorCampaign, ...] = ()  # ascending numeric id
        self._by_id: dict[str, SmsfactorCampaign] = {}
        # A hook: each campaign, as the vendor would show it, passes through this before it is
        # served (history and get, JSON and XML). Tests use it to spell numbers as a French
        # locale prints them ("1 234,5"), or to serve a status the docs do not list.
        self.served_as: Callable[[dict[str, object]], dict[str, object]] | None = None

    def lay_out(
        self, count: int, active: int | None = None, history: timedelta = SPREAD
    ) -> list[str]:
        """Generate ``count`` campaigns around the anchor; return their ids newest first."""
        layout = lay_out(self.seed, self.namespace, count, self.anchor, ROLES, active, history)
        with self._lock:
            base = self._count
            plans = [
                self._build(base + index, created, role, in_flight)
                for index, created, role, in_flight in layout.slots()
            ]
            self._extend(plans)
        return [plan.campaign_id for plan in reversed(plans)]

    def add(
        self,
        size: int,
        created_at: datetime,
        *,
        campaign_id: int | None = None,
        send_at: datetime | None = None,
        held_until: datetime | None = None,
        sender: str | None = None,
    ) -> str:
        """Add one campaign; return its id.

        ``campaign_id``: an explicit numeric id (default: the next drawn one); it must be free
        in every account. ``send_at``: the send date (default: at creation), "Waiting" until
        then. ``held_until``: "In moderation" from creation until then, sending at release
        when that is after the send date (which the vendor keeps showing as ``date``).
        ``sender``: the sender name it shows (default: drawn from ``SMSFACTOR_SENDERS``).
        """
        check_sizes((size, size), "size")
        if sender is not None and (not isinstance(sender, str) or not sender.strip()):
            raise ValueError("an SMSFactor sender must be a non-empty string")
        if send_at is not None and send_at < created_at:
            raise ValueError("send_at must not precede created_at")
        if held_until is not None and held_until < created_at:
            raise ValueError("held_until must not precede created_at")
        if campaign_id is not None and campaign_id <= 0:
            raise ValueError("campaign_id must be a positive integer")
        with self._lock:
            if campaign_id is not None and campaign_id in self._taken:
                raise ValueError(f"SMSFactor campaign id {campaign_id} is taken")
            plan = self._build(
                self._count,
                created_at,
                size=size,
                number=campaign_id,
                send_at=send_at,
                held_until=held_until,
                sender=sender,
            )
            self._extend([plan])
        return plan.campaign_id

    def campaign_ids(self) -> list[str]:
        """Every campaign id, highest first (including ones not created yet at "now")."""
        return [plan.campaign_id for plan in reversed(self._plans)]

    def visible(self, now_ts: float) -> list[SmsfactorCampaign]:
        """Campaigns created at or before ``now_ts``, in ascending id order."""
        return [plan for plan in self._plans if plan.created_ts <= now_ts]

    def find(self, campaign_id: str, now_ts: float) -> SmsfactorCampaign | None:
        """The account's campaign ``campaign_id`` if it exists at ``now_ts``."""
        plan = self._by_id.get(campaign_id)
        return plan if plan is not None and plan.created_ts <= now_ts else None

    def _extend(self, plans: list[SmsfactorCampaign]) -> None:
        self._by_id.update((plan.campaign_id, plan) for plan in plans)
        self._count += len(plans)
        ordered = list(self._plans)
        for plan in plans:  # drawn ids mostly arrive in order: insort is cheap then
            insort(ordered, plan, key=lambda p: p.number)
        self._plans = tuple(ordered)

    def _build(
        self,
        index: int,
        created_at: datetime,
        role: str = "",
        in_flight: bool = False,
        size: int | None = None,
        number: int | None = None,
        send_at: datetime | None = None,
        held_until: datetime | None = None,
        sender: str | None = None,
    ) -> SmsfactorCampaign:
        """Draw campaign ``index``'s plan; drawn ids increase with ``index``. ``role`` is a
        laid-out campaign's; ``number``, ``send_at``, ``held_until`` and ``sender`` an added
        one's. A delivery drop covering it is applied last, from its own generator."""
        rng = campaign_rng(self.seed, self.namespace, index)
        total = size if size is not None else rng.randint(*self.sizes)
        npai = int(total * rng.uniform(0, 0.02))
        sendable = total - npai
        error = int(sendable * rng.uniform(0, 0.02))
        network_error = int(sendable * rng.uniform(0, 0.01))
        expired = int(sendable * rng.uniform(0, 0.015))
        delivered = sendable - error - network_error - expired
        stop = int(delivered * rng.uniform(0, 0.004))
        text = rng.choice(SMSFACTOR_TEXTS)
        if send_at is None:
            send_at = created_at
        if role == "waiting":
            send_at = whole_seconds(self.anchor + timedelta(hours=rng.uniform(2, 30)))
        send_at = whole_seconds(send_at)
        held_until_ts = -math.inf if held_until is None else whole_seconds(held_until).timestamp()
        if role == "moderation":
            held_until_ts = math.inf
        start_ts = max(send_at.timestamp(), held_until_ts)
        pace = dispatch_pace(rng, total, send_at, self.anchor, in_flight, brisk=(0.01, 0.05))
        if number is None:
            number = FIRST_ID + ID_STRIDE * index + self.residue
            while number in self._taken:  # an explicit id took it: the next of this residue
                number += ID_STRIDE
        self._taken.add(number)
        # Drawn in this order whatever is used, so the rest of the plan stays the same.
        drawn_sender = rng.choice(SMSFACTOR_SENDERS)
        sender = drawn_sender if sender is None else sender
        lists = tuple(rng.sample(self._list_pool, rng.choice((1, 2))))
        settle_s = rng.uniform(20, 40) * 60
        unit_cost = (1 if len(text) <= 160 else 2) * Decimal(rng.choice(("1", "1.087", "1.12")))
        # A denied campaign never sends; one held for ever has an infinite start.
        points = 0.0 if role == "denied" else drop_points(self.drops, sender, start_ts)
        if points:
            moved = dropped(f"{self.seed}:{self.namespace}:{index}", delivered, total, points)
            delivered, error = delivered - moved, error + moved
            stop = min(stop, delivered)  # stop replies come from delivered messages
        finals = (
            ("delivered", delivered),
            ("error", error),
            ("expired", expired),
            ("network_error", network_error),
            ("stop", stop),
        )
        return SmsfactorCampaign(
            campaign_id=str(number),
            number=number,
            sender=sender,
            text=text,
            created_at=created_at,
            created_ts=created_at.timestamp(),
            creation_date=paris_local(created_at),
            send_ts=send_at.timestamp(),
            date=paris_local(send_at),
            start_ts=start_ts,
            held_until_ts=held_until_ts,
            lists=lists,
            role=role,
            total=total,
            npai=npai,
            finals=finals,
            dispatch_s=pace * total,
            settle_s=settle_s,
            unit_cost=unit_cost,
        )


def endpoint_for(path: str) -> str:
    """Name the endpoint a path addresses: "history", "get" or "unknown"."""
    parts = [part for part in path.split("/") if part]
    if parts == ["campaigns"]:
        return "history"
    return "get" if len(parts) == 2 and parts[0] == "campaign" else "unknown"


def wants_json(headers: Mapping[str, str]) -> bool:
    """JSON only when ``Accept`` mentions json (header names already lower-cased)."""
    return "json" in headers.get("accept", "").lower()


def handle(
    path: str,
    query: Mapping[str, str],
    as_json: bool,
    account: SmsfactorAccount | None,
    now: datetime,
) -> Response:
    """Answer one GET request for ``account`` (None: the token was not recognised)."""
    endpoint = endpoint_for(path)
    if account is None:
        body = _failure(-1, "Unauthorized", "Missing or invalid API token")
        return _reply(endpoint, 401, body, as_json)
    now_ts = now.timestamp()
    if endpoint == "history":
        history = _history(query, account, now_ts)
        if account.served_as is not None and isinstance(history.get("campaigns"), list):
            history["campaigns"] = [account.served_as(dict(c)) for c in history["campaigns"]]
        return _reply(endpoint, 200, history, as_json)
    if endpoint == "get":
        campaign_id = path.rstrip("/").rsplit("/", 1)[-1]
        plan = account.find(campaign_id, now_ts)
        if plan is not None:
            state = plan.state_at(now_ts)
            if account.served_as is not None:
                state = account.served_as(state)
            body = {"status": 1, "message": "OK", "campaign": [state]}
            return _reply(endpoint, 200, body, as_json)
        body = _failure(-5, "Resource not found", f"Campaign {campaign_id} not found")
        return _reply(endpoint, 200, body, as_json)
    return _reply(endpoint, 404, _failure(-99, "Unknown error", f"No route {path}"), as_json)


def rate_limited(retry_after: int, as_json: bool) -> Response:
    """A 429 in SMSFactor's error shape (its limits are undocumented) with ``Retry-After``."""
    details = f"Rate limit reached, retry after {retry_after} seconds"
    response = _reply("rate_limited", 429, _failure(-99, "Too many requests", details), as_json)
    response.headers["Retry-After"] = str(retry_after)
    return response


def status_error(endpoint: str, status: int, as_json: bool) -> Response:
    """An error answer for a forced HTTP ``status`` as SMSFactor's clients meet it.

    A 5xx comes from the proxy in front of the API, so it is an HTML gateway page whatever the
    client asked for; a 4xx is the API's own failure shape (-1 authentication, -5 not found,
    -99 anything else) in JSON or XML like every other answer, and a 429 also says when to
    retry.
    """
    if status >= 500:
        title = f"{status} {_phrase(status)}"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return Response(status, {"Content-Type": "text/html"}, page.encode(), endpoint)
    if status == 429:
        return replace(rate_limited(1, as_json), endpoint=endpoint)
    code, message = {401: (-1, "Unauthorized"), 404: (-5, "Resource not found")}.get(
        status, (-99, "Unknown error")
    )
    return _reply(endpoint, status, _failure(code, message, f"HTTP {status}"), as_json)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _history(
    query: Mapping[str, str], account: SmsfactorAccount, now_ts: float
) -> dict[str, object]:
    start, length = int_param(query, "start", 0), int_param(query, "length", 100)
    if start is None or start < 0 or length is None or not 1 <= length <= 1000:
        return _failure(-7, "Data error", "start must be >= 0 and length between 1 and 1000")
    sort = query.get("sort") or "-id"
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        return _failure(-7, "Data error", f"sort must be one of {', '.join(SORT_KEYS)}")
    bounds = [query.get("date_start") or "", query.get("date_end") or ""]
    for bound in filter(None, bounds):
        try:
            datetime.strptime(bound, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return _failure(-4, "Incorrect date", f"{bound!r} is not Y-m-d H:i:s")
    visible = account.visible(now_ts)  # ascending numeric id
    shown = visible
    if any(bounds):  # on the send date as shown: Paris wall-clock strings compare in order
        shown = [plan for plan in visible if bounds[0] <= plan.date <= (bounds[1] or "9999")]
    states: dict[int, dict[str, object]] = {}
    if key in ("cost", "status"):  # these need every campaign's state at now
        states = {plan.number: plan.state_at(now_ts) for plan in shown}
        as_key = Decimal if key == "cost" else str
        shown = sorted(shown, key=lambda p: (as_key(states[p.number][key]), p.number))
    elif key in ("date", "text"):
        shown = sorted(shown, key=lambda plan: (getattr(plan, key), plan.number))
    ordered = shown[::-1] if sort.startswith("-") else shown
    page = ordered[start : start + length]
    return {
        "status": 1,
        "message": "OK",
        "totalRecords": len(visible),
        "totalDisplayRecords": len(shown),
        "campaigns": [states.get(plan.number) or plan.state_at(now_ts) for plan in page],
    }


def _failure(status: int, message: str, details: str) -> dict[str, object]:
    return {"status": status, "message": message, "details": details}


def _reply(endpoint: str, status: int, payload: Mapping[str, object], as_json: bool) -> Response:
    if as_json:
        return Response(status, {"Content-Type": "application/json"}, json_body(payload), endpoint)
    return Response(status, {"Content-Type": "application/xml"}, to_xml(payload), endpoint)


def to_xml(payload: Mapping[str, object]) -> bytes:
    """Render a response the way the seed's XML example does (``<lists>`` once per list).

    Written by hand (same bytes as ElementTree with 4-space indent) because a 1,000-campaign
    history page through ElementTree is too slow.
    """
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<response>"]
    for key, value in payload.items():
        if key == "campaign" and isinstance(value, list):
            for campaign in value:
                _campaign_xml(lines, campaign, "    ")
        elif key == "campaigns" and isinstance(value, list):
            if not value:
                lines.append("    <campaigns />")
                continue
            lines.append("    <campaigns>")
            for campaign in value:
                _campaign_xml(lines, campaign, "        ")
            lines.append("    </campaigns>")
        else:
            lines.append(f"    {_leaf(key, value)}")
    lines.append("</response>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _campaign_xml(lines: list[str], campaign: Mapping[str, object], pad: str) -> None:
    lines.append(f"{pad}<campaign>")
    for key, value in campaign.items():
        if key == "lists" and isinstance(value, list):
            for item in value:
                lines.append(f"{pad}    <lists>")
                lines.append(f"{pad}        {_leaf('id', item['id'])}")
                lines.append(f"{pad}    </lists>")
        else:
            lines.append(f"{pad}    {_leaf(key, value)}")
    lines.append(f"{pad}</campaign>")


def _leaf(tag: str, value: object) -> str:
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<{tag}>{text}</{tag}>" if text else f"<{tag} />"
