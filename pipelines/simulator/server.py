"""The stateful simulator and its stdlib HTTP server.

``Simulator`` owns the clock, the accounts (one per API key or token, each with its own
campaigns), the call counters, the rate limiter and the injected faults (``faults``);
``serve`` exposes it over real HTTP on a ``ThreadingHTTPServer`` with Nixflex mounted at
``/nixflex/v1``, SMSFactor at ``/smsfactor`` and an unauthenticated control API at ``/_sim``
(call counts, clock, faults, delivery drops) for out-of-process use.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from pipelines.simulator import nixflex, smsfactor
from pipelines.simulator.faults import (
    Fault,
    FaultBook,
    FaultError,
    apply_fault,
    fault_to_json,
    faults_from_json,
)
from pipelines.simulator.model import (
    SPREAD,
    DeliveryDrop,
    Response,
    SimClock,
    bearer_token,
    iso_z,
    json_body,
    lower_keys,
    whole_seconds,
)
from pipelines.simulator.nixflex import NixflexAccount, RecipientCache
from pipelines.simulator.ratelimit import Decision, RateLimiter
from pipelines.simulator.smsfactor import ID_STRIDE, SmsfactorAccount

MOUNTS = {"/nixflex/v1": "nixflex", "/smsfactor": "smsfactor"}
CONTROL = "/_sim"
VENDORS = ("nixflex", "smsfactor")
RATE_LIMIT = 600  # Nixflex: GET 600/min per API key (vendor docs)


class Simulator:
    """Both vendors' accounts, deterministic from ``seed`` and laid out around ``anchor``.

    The demo key and token own ``nixflex_campaigns`` and ``smsfactor_campaigns`` campaigns:
    the newest ``active_campaigns`` (None: about one in six) are created 0-3 h before the
    anchor and still in flight at it, the rest spread over ``history`` before it, each with a
    recipient count drawn from ``nixflex_sizes`` / ``smsfactor_sizes``. Each API key may make
    ``rate_limit`` requests (``smsfactor_rate_limit`` per token; None: unlimited) per fixed
    window of ``rate_window`` real seconds.

    ``drops`` (see ``DeliveryDrop``) lower the delivered share of the campaigns of a sender
    that start sending within a window, in every account: those laid out here and those added
    later. A campaign's plan is drawn once, when it is laid out or added, so a drop added later
    with ``drop_delivery`` reaches only campaigns added after it: give ``drops`` here for the
    laid-out ones.
    """

    def __init__(
        self,
        seed: int = 42,
        nixflex_campaigns: int = 12,
        smsfactor_campaigns: int = 12,
        clock: SimClock | None = None,
        anchor: datetime | None = None,
        miscounted_nixflex: Iterable[str] = (),
        *,
        active_campaigns: int | None = None,
        history: timedelta = SPREAD,
        nixflex_sizes: tuple[int, int] = nixflex.DEFAULT_SIZES,
        smsfactor_sizes: tuple[int, int] = smsfactor.DEFAULT_SIZES,
        rate_limit: int | None = RATE_LIMIT,
        rate_window: float = 60.0,
        smsfactor_rate_limit: int | None = None,
        drops: Iterable[DeliveryDrop] = (),
    ) -> None:
        self.seed = seed
        self._drops: list[DeliveryDrop] = list(drops)  # shared with every account
        for drop in self._drops:
            if not isinstance(drop, DeliveryDrop):
                raise TypeError(f"drops must be DeliveryDrop instances, not {drop!r}")
        self.clock = clock if clock is not None else SimClock()
        if anchor is None:
            anchor = self.clock.now().replace(second=0, microsecond=0)
        elif anchor.tzinfo is None:
            raise ValueError("anchor must be tz-aware")
        self.anchor = anchor.astimezone(UTC)
        self.miscounted_nixflex = frozenset(miscounted_nixflex)
        self.calls: Counter[tuple[str, str]] = Counter()
        self.calls_by_key: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._limiter = RateLimiter(
            {"nixflex": rate_limit, "smsfactor": smsfactor_rate_limit}, rate_window
        )
        self._faults = FaultBook(self._lock)
        self._recipients = RecipientCache()
        self._nixflex_ids: set[str] = set()
        self._smsfactor_ids: set[int] = set()
        self._nixflex: dict[str, NixflexAccount] = {}
        self._smsfactor: dict[str, SmsfactorAccount] = {}
        self.add_nixflex_account(
            nixflex.DEMO_KEY,
            nixflex_campaigns,
            active_campaigns=active_campaigns,
            history=history,
            sizes=nixflex_sizes,
        )
        self.add_smsfactor_account(
            smsfactor.DEMO_TOKEN,
            smsfactor_campaigns,
            active_campaigns=active_campaigns,
            history=history,
            sizes=smsfactor_sizes,
        )

    # Accounts and campaigns.

    def add_nixflex_account(
        self,
        api_key: str,
        campaigns: int,
        seed: int | None = None,
        *,
        active_campaigns: int | None = None,
        history: timedelta = SPREAD,
        sizes: tuple[int, int] = nixflex.DEFAULT_SIZES,
    ) -> list[str]:
        """Add an account reached with ``api_key`` holding ``campaigns`` campaigns laid out as
        in the constructor; return their ids newest first. Key ids (before ':') must differ."""
        label = _check_secret(api_key, nixflex.key_label(api_key))
        with self._lock:
            if any(account.label == label for account in self._nixflex.values()):
                raise ValueError(f"a Nixflex account with key id {label!r} exists already")
            namespace = "nixflex" if api_key == nixflex.DEMO_KEY else f"nixflex:{label}"
            account = NixflexAccount(
                api_key,
                self.seed if seed is None else seed,
                self.anchor,
                self._recipients,
                self._nixflex_ids,
                namespace,
                sizes,
                self._drops,
            )
            ids = account.lay_out(campaigns, active_campaigns, history)
            self._nixflex[api_key] = account
        return ids

    def add_smsfactor_account(
        self,
        api_token: str,
        campaigns: int,
        seed: int | None = None,
        *,
        active_campaigns: int | None = None,
        history: timedelta = SPREAD,
        sizes: tuple[int, int] = smsfactor.DEFAULT_SIZES,
    ) -> list[str]:
        """Add an account reached with ``api_token`` (its first 6 characters must be new)
        holding ``campaigns`` campaigns; return their ids newest first."""
        label = _check_secret(api_token, smsfactor.token_label(api_token))
        with self._lock:
            if any(account.label == label for account in self._smsfactor.values()):
                raise ValueError(f"an SMSFactor token starting {label!r} exists already")
            demo = api_token == smsfactor.DEMO_TOKEN
            namespace = "smsfactor" if demo else f"smsfactor:{label}"
            account_seed = self.seed if seed is None else seed
            used = {account.residue for account in self._smsfactor.values()}
            if len(used) >= ID_STRIDE:
                raise ValueError(f"at most {ID_STRIDE} SMSFactor accounts")
            residue = random.Random(f"{account_seed}:{namespace}:residue").randrange(ID_STRIDE)
            while residue in used:
                residue = (residue + 1) % ID_STRIDE
            account = SmsfactorAccount(
                api_token,
                account_seed,
                self.anchor,
                residue,
                namespace,
                sizes,
                self._smsfactor_ids,
                self._drops,
            )
            ids = account.lay_out(campaigns, active_campaigns, history)
            self._smsfactor[api_token] = account
        return ids

    def nixflex_campaign_ids(self, api_key: str = nixflex.DEMO_KEY) -> list[str]:
        """All of a key's Nixflex campaign ids, newest first (including ones not visible yet)."""
        return self._nixflex_account(api_key).campaign_ids()

    def smsfactor_campaign_ids(self, api_token: str = smsfactor.DEMO_TOKEN) -> list[str]:
        """All of a token's SMSFactor campaign ids, highest first (including ones not visible
        yet); drawn ids grow with creation, explicit ones (``add_smsfactor_campaign``) need not."""
        return self._smsfactor_account(api_token).campaign_ids()

    def nixflex_senders(self, api_key: str = nixflex.DEMO_KEY) -> list[str]:
        """The from_numbers a key's Nixflex campaigns are sent from (one per agent)."""
        return self._nixflex_account(api_key).senders()

    def add_nixflex_campaign(
        self,
        size: int = 50,
        created_at: datetime | None = None,
        *,
        api_key: str = nixflex.DEMO_KEY,
        kind: str = "immediate",
        send_at: datetime | None = None,
        from_number: str | None = None,
    ) -> str:
        """Add a Nixflex campaign of ``size`` recipients created now (or at ``created_at``);
        return its id. Instants are tz-aware and kept to the whole second.

        ``kind`` says how it starts sending, at ``send_at`` (any instant not before creation,
        past or future):

        - ``"immediate"`` (default): sends at ``send_at``, by default 2-30 s after creation;
          "running" with every recipient pending until then;
        - ``"scheduled"``: "scheduled" with ``scheduled_at`` = ``send_at`` until then;
        - ``"launched"``: a draft until ``send_at`` (its launch), then it sends;
        - ``"draft"``: a draft for ever (no ``send_at``); its recipients stay pending.

        Once sending, it is "running" while any recipient is pending or queued, then "done".
        It is listed (newest first by ``created_at``) from ``created_at`` on. ``from_number``
        picks the agent sending from that number (one of ``nixflex_senders``; ValueError
        otherwise); by default one is drawn.
        """
        if kind not in nixflex.KINDS:
            raise ValueError(f"kind must be one of {', '.join(nixflex.KINDS)}")
        account, created = self._nixflex_account(api_key), self._creation(created_at)
        send = None if send_at is None else _instant(send_at)
        with self._lock:  # campaign ids are drawn against every account's
            return account.add(size, created, kind=kind, send_at=send, from_number=from_number)

    def add_smsfactor_campaign(
        self,
        size: int = 200,
        created_at: datetime | None = None,
        *,
        api_token: str = smsfactor.DEMO_TOKEN,
        campaign_id: int | None = None,
        send_at: datetime | None = None,
        held_until: datetime | None = None,
        sender: str | None = None,
    ) -> str:
        """Add an SMSFactor campaign of ``size`` messages created now (or at ``created_at``);
        return its id. Instants are tz-aware and kept to the whole second.

        ``campaign_id``: an explicit numeric id, free in every account (default: the next
        drawn one), so ids can disagree with dates (a campaign moved from a sister platform
        with a low id, one created early and sent late). ``send_at``: the send date shown as
        ``date`` (default: at creation), "Waiting" until then. ``held_until``: "In moderation"
        from creation until that instant; released after the send date, it sends at release
        while ``date`` still shows the requested send date. The history lists it from
        ``created_at`` on. ``sender``: the sender name it shows (default: drawn).
        """
        account, created = self._smsfactor_account(api_token), self._creation(created_at)
        send = None if send_at is None else _instant(send_at)
        held = None if held_until is None else _instant(held_until)
        with self._lock:  # explicit ids are checked against every account's
            return account.add(
                size,
                created,
                campaign_id=campaign_id,
                send_at=send,
                held_until=held,
                sender=sender,
            )

    # Delivery drops.

    def drop_delivery(
        self,
        sender: str,
        points: float,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> DeliveryDrop:
        """Make campaigns from ``sender`` that start sending in [``start``, ``end``) (start
        default: the clock's now; end None: open-ended) deliver ``points`` percentage points
        fewer of their messages; return the drop. It reaches campaigns added from now on only:
        the laid-out ones were drawn at construction (pass ``drops=`` there for them)."""
        drop = DeliveryDrop(sender, points, self.clock.now() if start is None else start, end)
        with self._lock:  # plans are drawn under this lock too
            self._drops.append(drop)
        return drop

    def delivery_drops(self) -> list[DeliveryDrop]:
        """Every delivery drop, in the order given."""
        with self._lock:
            return list(self._drops)

    def _nixflex_account(self, api_key: str) -> NixflexAccount:
        account = self._nixflex.get(api_key)
        if account is None:
            raise KeyError(f"no Nixflex account for key id {nixflex.key_label(api_key)!r}")
        return account

    def _smsfactor_account(self, api_token: str) -> SmsfactorAccount:
        account = self._smsfactor.get(api_token)
        if account is None:
            label = smsfactor.token_label(api_token)
            raise KeyError(f"no SMSFactor account for a token starting {label!r}")
        return account

    def _creation(self, created_at: datetime | None) -> datetime:
        return _instant(created_at or self.clock.now())

    # Rate limits and faults.

    def throttle_next(self, n: int, retry_after: int = 1, vendor: str = "nixflex") -> None:
        """Answer the next ``n`` authenticated requests to ``vendor`` (any key) with a 429
        carrying ``Retry-After: retry_after``, whatever the rate window says."""
        if vendor not in VENDORS:
            raise ValueError(f"vendor must be one of {', '.join(VENDORS)}")
        self._limiter.throttle_next(vendor, n, retry_after)

    def inject(self, *faults: Fault) -> None:
        """Queue ``faults`` after the pending ones; each authenticated vendor request takes the
        first that matches it and is not used up (see ``pipelines.simulator.faults``)."""
        self._faults.inject(faults)

    def pending_faults(self) -> list[Fault]:
        """The faults not used up yet, in order, ``times`` set to the uses left."""
        return self._faults.pending()

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self._faults.clear()

    def max_requests_in_window(self, vendor: str) -> int:
        """The most requests one key had served by ``vendor`` within one rate window."""
        if vendor not in VENDORS:
            raise ValueError(f"vendor must be one of {', '.join(VENDORS)}")
        return self._limiter.peak(vendor)

    # Requests.

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> Response:
        """Route one request: control API, or a vendor (auth, faults, rate limit, answer,
        counting). A "delay" fault sleeps here, in the caller's thread, holding no lock."""
        if path == CONTROL or path.startswith(CONTROL + "/"):
            return self._control(method, path, body)
        now = self.clock.now()
        mount = next((m for m in MOUNTS if path == m or path.startswith(m + "/")), None)
        if mount is None:
            return Response(
                404, {"Content-Type": "application/json"}, b'{"error": "no such vendor"}', ""
            )
        vendor, sub_path = MOUNTS[mount], path[len(mount) :] or "/"
        lowered = lower_keys(headers)
        token = bearer_token(lowered) or ""
        labelled = nixflex.key_label if vendor == "nixflex" else smsfactor.token_label
        label = labelled(token)  # counted by the key's public part, never the secret
        endpoint = (nixflex if vendor == "nixflex" else smsfactor).endpoint_for(sub_path)
        as_json = vendor == "smsfactor" and smsfactor.wants_json(lowered)
        if method != "GET":
            payload = json_body({"error": f"{method} is not simulated"})
            response = Response(
                405, {"Content-Type": "application/json", "Allow": "GET"}, payload, endpoint
            )
        else:

            def real() -> Response:
                if vendor == "nixflex":
                    return self._nixflex_get(sub_path, query, self._nixflex.get(token), now)
                account = self._smsfactor.get(token)
                return self._smsfactor_get(sub_path, query, as_json, account, now)

            # Faults hit authenticated requests only: a bad key keeps its own documented answer.
            known = token in (self._nixflex if vendor == "nixflex" else self._smsfactor)
            fault = self._faults.take(vendor, endpoint, path) if known else None
            if fault is None:
                response = real()
            else:
                response = apply_fault(
                    fault, endpoint, as_json, real, lambda: self._limiter.charge(vendor, label)
                )
        with self._lock:
            self.calls[(vendor, response.endpoint)] += 1
            self.calls_by_key[(vendor, label, response.endpoint)] += 1
        return response

    def _nixflex_get(
        self,
        path: str,
        query: Mapping[str, str],
        account: NixflexAccount | None,
        now: datetime,
    ) -> Response:
        """Authenticate, apply the key's budget, answer, and add the rate-limit headers."""
        if account is None:
            return nixflex.handle(path, query, None, now)
        decision = self._limiter.admit("nixflex", account.label)
        if not decision.allowed:
            return nixflex.rate_limited(decision.retry_after, _rate_headers(decision))
        response = nixflex.handle(path, query, account, now, self.miscounted_nixflex)
        response.headers.update(_rate_headers(decision))
        return response

    def _smsfactor_get(
        self,
        path: str,
        query: Mapping[str, str],
        as_json: bool,
        account: SmsfactorAccount | None,
        now: datetime,
    ) -> Response:
        """Authenticate, apply the token's budget (none by default) and answer."""
        if account is None:
            return smsfactor.handle(path, query, as_json, None, now)
        decision = self._limiter.admit("smsfactor", account.label)
        if not decision.allowed:
            return smsfactor.rate_limited(decision.retry_after, as_json)
        return smsfactor.handle(path, query, as_json, account, now)

    def calls_snapshot(self) -> dict[str, object]:
        """What ``GET /_sim/calls`` answers: call counts and each vendor's window peak."""
        with self._lock:
            calls = {f"{v}/{e}": n for (v, e), n in sorted(self.calls.items())}
            by_key = {f"{v}/{k}/{e}": n for (v, k, e), n in sorted(self.calls_by_key.items())}
        return {
            "calls": calls,
            "calls_by_key": by_key,
            "max_requests_in_window": {v: self.max_requests_in_window(v) for v in VENDORS},
        }

    def _control(self, method: str, path: str, body: bytes) -> Response:
        route = path.rstrip("/")
        if route == CONTROL + "/calls" and method == "GET":
            return _control_json(200, self.calls_snapshot())
        if route == CONTROL + "/faults":
            return self._control_faults(method, body)
        if route == CONTROL + "/drops" and method in ("GET", "POST"):
            return self._control_drops(method, body)
        if route != CONTROL + "/clock" or method not in ("GET", "POST"):
            return _control_json(404, {"error": f"no control route {method} {path}"})
        if method == "POST":
            error = self._move_clock(body)
            if error:
                return _control_json(400, {"error": error})
        return _control_json(200, {"now": iso_z(self.clock.now())})

    def _control_faults(self, method: str, body: bytes) -> Response:
        """``GET`` lists pending faults, ``POST`` injects a JSON list, ``DELETE`` clears."""
        if method == "POST":
            try:
                faults = faults_from_json(body)
            except ValueError as error:
                return _control_json(400, {"error": str(error)})
            self.inject(*faults)
        elif method == "DELETE":
            return _control_json(200, {"cleared": self._faults.clear()})
        elif method != "GET":
            payload = json_body({"error": f"{method} /_sim/faults: use GET, POST or DELETE"})
            headers = {"Content-Type": "application/json", "Allow": "GET, POST, DELETE"}
            return Response(405, headers, payload, "")
        return _control_json(200, {"faults": [fault_to_json(f) for f in self.pending_faults()]})

    def _control_drops(self, method: str, body: bytes) -> Response:
        """``POST {"sender": S, "points": P}`` adds a drop from now on (for campaigns added
        afterwards); ``GET`` and ``POST`` answer every drop."""
        if method == "POST":
            try:
                command = json.loads(body or b"{}")
                if not isinstance(command, dict) or set(command) != {"sender", "points"}:
                    raise ValueError('expected {"sender": "…", "points": N}')
                self.drop_delivery(command["sender"], command["points"])
            except ValueError as error:
                return _control_json(400, {"error": str(error)})
        drops = [
            {
                "sender": d.sender,
                "points": d.points,
                "start": iso_z(d.start),
                "end": None if d.end is None else iso_z(d.end),
            }
            for d in self.delivery_drops()
        ]
        return _control_json(200, {"drops": drops})

    def _move_clock(self, body: bytes) -> str | None:
        """Apply ``{"advance_seconds": n}`` or ``{"set": ISO}``; return an error text or None."""
        try:
            command = json.loads(body or b"{}")
        except ValueError:
            return "body must be JSON"
        if not isinstance(command, dict) or len(command.keys() & {"advance_seconds", "set"}) != 1:
            return 'expected {"advance_seconds": N} or {"set": "ISO-8601 instant"}'
        if "set" in command:
            try:
                instant = datetime.fromisoformat(str(command["set"]))
            except ValueError:
                return "set must be an ISO-8601 instant"
            if instant.tzinfo is None:
                return "set needs a time zone (e.g. a trailing Z)"
            self.clock.set(instant)
            return None
        seconds = command["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return "advance_seconds must be a number"
        self.clock.advance(timedelta(seconds=seconds))
        return None


def _instant(instant: datetime) -> datetime:
    """A campaign instant as the vendors keep it: UTC, whole seconds (tz-aware only)."""
    if instant.tzinfo is None:
        raise ValueError("campaign instants must be tz-aware")
    return whole_seconds(instant.astimezone(UTC))


def _rate_headers(decision: Decision) -> dict[str, str]:
    if decision.limit is None:
        return {}
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset),
    }


def _control_json(status: int, payload: object) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json_body(payload), "")


def _check_secret(secret: str, label: str) -> str:
    if not secret or secret != secret.strip() or any(c.isspace() for c in secret):
        raise ValueError("an API key or token must be non-empty with no whitespace")
    return label


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator
        self.verbose = verbose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave as two writes: no 40 ms stalls
    server: _Server

    def do_GET(self) -> None:
        self._answer(self.command)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            response = self.server.simulator.handle(
                method, split.path, query, dict(self.headers.items()), body
            )
        except FaultError as error:  # a test's fault does not fit the answer: say which
            body = json_body({"error": f"fault could not be applied: {error}"})
            response = Response(500, {"Content-Type": "application/json"}, body, "")
        except Exception:  # a simulator bug must not kill the connection silently
            traceback.print_exc()
            body = json_body({"error": "simulator crashed"})
            response = Response(500, {"Content-Type": "application/json"}, body, "")
        if response.reset:
            self._reset()
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # e.g. it timed out on a delay fault
            self.close_connection = True

    def _reset(self) -> None:
        """Drop the connection with a TCP RST: linger 0 makes close() abort, not finish.

        The socket is really closed here (its read file holds a reference to it), before
        ``shutdown_request`` could send a FIN that the client would read as a clean end.
        """
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.rfile.close()

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


@contextmanager
def serve(
    simulator: Simulator, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
) -> Iterator[str]:
    """Serve ``simulator`` from a daemon thread; yield the base URL, shut down on exit."""
    server = _Server((host, port), simulator, verbose)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="simulator"
    )
    thread.start()
    public_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    try:
        yield f"http://{public_host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
