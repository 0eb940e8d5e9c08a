"""The stateful simulator and its stdlib HTTP server.

``Simulator`` owns the clock, the generated campaigns, the call counter and the Nixflex
rate-limit window; ``serve`` exposes it over real HTTP on a ``ThreadingHTTPServer`` with
Nixflex mounted at ``/nixflex/v1`` and SMSFactor at ``/smsfactor``.
"""

from __future__ import annotations

import threading
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from pipelines.simulator import nixflex, smsfactor
from pipelines.simulator.model import Response, SimClock, json_body, lay_out, whole_seconds
from pipelines.simulator.nixflex import build_nixflex_campaign
from pipelines.simulator.smsfactor import build_smsfactor_campaign

MOUNTS = {"/nixflex/v1": "nixflex", "/smsfactor": "smsfactor"}
NIXFLEX_ROLES = ("scheduled", "draft")
SMSFACTOR_ROLES = ("waiting", "denied", "moderation")
RATE_LIMIT = 600  # Nixflex: GET 600/min per API key (vendor docs); counted, never enforced


class Simulator:
    """Both vendors' accounts, deterministic from ``seed`` and laid out around ``anchor``."""

    def __init__(
        self,
        seed: int = 42,
        nixflex_campaigns: int = 12,
        smsfactor_campaigns: int = 12,
        clock: SimClock | None = None,
        anchor: datetime | None = None,
        miscounted_nixflex: Iterable[str] = (),
    ) -> None:
        self.seed = seed
        self.clock = clock if clock is not None else SimClock()
        if anchor is None:
            anchor = self.clock.now().replace(second=0, microsecond=0)
        elif anchor.tzinfo is None:
            raise ValueError("anchor must be tz-aware")
        self.anchor = anchor.astimezone(UTC)
        self.miscounted_nixflex = frozenset(miscounted_nixflex)
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._rate_window, self._rate_used = 0, 0
        nixflex_slots = lay_out(seed, "nixflex", nixflex_campaigns, self.anchor, NIXFLEX_ROLES)
        self._nixflex = [
            build_nixflex_campaign(seed, index, created, self.anchor, role, in_flight)
            for index, created, role, in_flight in nixflex_slots.slots()
        ]
        smsfactor_slots = lay_out(
            seed, "smsfactor", smsfactor_campaigns, self.anchor, SMSFACTOR_ROLES
        )
        self._smsfactor = [
            build_smsfactor_campaign(seed, index, created, self.anchor, role, in_flight)
            for index, created, role, in_flight in smsfactor_slots.slots()
        ]

    def nixflex_campaign_ids(self) -> list[str]:
        """All Nixflex campaign ids, newest first (including ones not visible yet)."""
        with self._lock:
            ordered = sorted(enumerate(self._nixflex), key=lambda p: (p[1].created_at, p[0]))
        return [campaign.campaign_id for _, campaign in reversed(ordered)]

    def smsfactor_campaign_ids(self) -> list[str]:
        """All SMSFactor campaign ids, newest first (ids grow with creation)."""
        with self._lock:
            return [campaign.campaign_id for campaign in reversed(self._smsfactor)]

    def add_nixflex_campaign(self, size: int = 50, created_at: datetime | None = None) -> str:
        """Add a campaign created now (or at ``created_at``) that sends at once; return its id."""
        created = self._creation(size, created_at)
        with self._lock:
            index = len(self._nixflex)
            campaign = build_nixflex_campaign(self.seed, index, created, self.anchor, size=size)
            self._nixflex.append(campaign)
        return campaign.campaign_id

    def add_smsfactor_campaign(self, size: int = 200, created_at: datetime | None = None) -> str:
        """Add an SMSFactor campaign created now (or at ``created_at``); return its id."""
        created = self._creation(size, created_at)
        with self._lock:
            index = len(self._smsfactor)
            campaign = build_smsfactor_campaign(self.seed, index, created, self.anchor, size=size)
            self._smsfactor.append(campaign)
        return campaign.campaign_id

    def _creation(self, size: int, created_at: datetime | None) -> datetime:
        if not 1 <= size <= 10_000:
            raise ValueError("a campaign has between 1 and 10,000 recipients")
        return whole_seconds((created_at or self.clock.now()).astimezone(UTC))

    def handle(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Response:
        """Route one request to a vendor, count it, and add Nixflex's rate-limit headers."""
        now = self.clock.now()
        mount = next((m for m in MOUNTS if path == m or path.startswith(m + "/")), None)
        if mount is None:
            return Response(
                404, {"Content-Type": "application/json"}, b'{"error": "no such vendor"}', ""
            )
        vendor, sub_path = MOUNTS[mount], path[len(mount) :] or "/"
        with self._lock:
            nixflex_campaigns, smsfactor_campaigns = tuple(self._nixflex), tuple(self._smsfactor)
        if method != "GET":
            endpoint = (nixflex if vendor == "nixflex" else smsfactor).endpoint_for(sub_path)
            body = json_body({"error": f"{method} is not simulated"})
            response = Response(
                405, {"Content-Type": "application/json", "Allow": "GET"}, body, endpoint
            )
        elif vendor == "nixflex":
            response = nixflex.handle(
                sub_path, query, headers, nixflex_campaigns, now, self.miscounted_nixflex
            )
        else:
            response = smsfactor.handle(sub_path, query, headers, smsfactor_campaigns, now)
        with self._lock:
            self.calls[(vendor, response.endpoint)] += 1
            if vendor == "nixflex" and response.status != 401:
                response.headers.update(self._rate_headers(now))
        return response

    def _rate_headers(self, now: datetime) -> dict[str, str]:
        window = int(now.timestamp()) // 60
        if window != self._rate_window:
            self._rate_window, self._rate_used = window, 0
        self._rate_used += 1
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - self._rate_used)),
            "X-RateLimit-Reset": str((window + 1) * 60),
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator
        self.verbose = verbose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._answer(self.command)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            response = self.server.simulator.handle(
                method, split.path, query, dict(self.headers.items())
            )
        except Exception:  # a simulator bug must not kill the connection silently
            traceback.print_exc()
            body = json_body({"error": "simulator crashed"})
            response = Response(500, {"Content-Type": "application/json"}, body, "")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

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
