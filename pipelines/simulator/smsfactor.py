"""The simulated SMSFactor API: campaign plans, counters at time t, and pure request handling.

Shapes follow the seed page (``GET /campaign/{id}``) and the documented history endpoint:
``campaign`` is an array of one, every campaign number is a string, dates are Europe/Paris
wall-clock ``Y-m-d H:i:s``, errors come in the body (HTTP 200 except for authentication), and
XML is the default format: JSON only when ``Accept`` mentions json. Paths are relative to the
mount point ``{base}/smsfactor``.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pipelines.simulator.model import (
    SMSFACTOR_SENDERS,
    SMSFACTOR_TEXTS,
    Response,
    bearer_token,
    campaign_rng,
    dispatch_pace,
    format_decimal,
    hex_token,
    int_param,
    json_body,
    lower_keys,
    paris_local,
    whole_seconds,
)

DEMO_TOKEN = "sf_demo_token"
FIRST_ID = 18969398
ID_STRIDE = 37  # other accounts' campaigns take the ids in between
SORT_KEYS = ("id", "date", "text", "cost", "status")
HELD = {"denied": "Denied", "moderation": "In moderation"}
COUNTERS = ("delivered", "error", "expired", "network_error", "stop")


@dataclass(frozen=True)
class SmsfactorCampaign:
    """A campaign's static plan; ``finals`` are the counters once every report is in."""

    campaign_id: str
    sender: str
    text: str
    created_at: datetime
    send_at: datetime
    lists: tuple[str, ...]
    role: str  # "", "waiting", "denied" or "moderation"
    total: int
    npai: int
    finals: Mapping[str, int]
    dispatch_s: float
    settle_s: float
    unit_cost: Decimal

    def state_at(self, now: datetime) -> dict[str, object]:
        """The campaign as the vendor shows it at ``now``: status and string counters."""
        elapsed = (now - self.send_at).total_seconds()
        counters = dict.fromkeys(COUNTERS, 0)
        npai, cost = 0, Decimal(0)
        if self.role in HELD:
            status = HELD[self.role]
        elif elapsed < 0:
            status = "Waiting"
        else:
            status = "In progress" if elapsed < self.dispatch_s else "Sent"
            window = self.dispatch_s + self.settle_s
            for name, final in self.finals.items():
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
            "creation_date": paris_local(self.created_at),
            "date": paris_local(self.send_at),
            "cost": format_decimal(cost),
            "lists": [{"id": list_id} for list_id in self.lists],
            "status": status,
            "delivery_rate": format_decimal(rate),
            **{name: str(value) for name, value in counters.items()},
            "npai": str(npai),
            "total": str(self.total),
        }


def build_smsfactor_campaign(
    seed: int,
    index: int,
    created_at: datetime,
    anchor: datetime,
    role: str = "",
    in_flight: bool = False,
    size: int | None = None,
) -> SmsfactorCampaign:
    """Draw campaign ``index``'s plan; ids increase with ``index``."""
    rng = campaign_rng(seed, "smsfactor", index)
    list_pool = random.Random(f"{seed}:smsfactor:lists")
    pool = [hex_token(list_pool, 24) for _ in range(4)]
    total = size if size is not None else rng.randint(50, 3000)
    npai = int(total * rng.uniform(0, 0.02))
    sendable = total - npai
    error = int(sendable * rng.uniform(0, 0.02))
    network_error = int(sendable * rng.uniform(0, 0.01))
    expired = int(sendable * rng.uniform(0, 0.015))
    delivered = sendable - error - network_error - expired
    finals = {
        "delivered": delivered,
        "error": error,
        "expired": expired,
        "network_error": network_error,
        "stop": int(delivered * rng.uniform(0, 0.004)),
    }
    text = rng.choice(SMSFACTOR_TEXTS)
    send_at = created_at
    if role == "waiting":
        send_at = whole_seconds(anchor + timedelta(hours=rng.uniform(2, 30)))
    pace = dispatch_pace(rng, total, send_at, anchor, in_flight, brisk=(0.01, 0.05))
    return SmsfactorCampaign(
        campaign_id=str(FIRST_ID + ID_STRIDE * index + rng.randrange(ID_STRIDE)),
        sender=rng.choice(SMSFACTOR_SENDERS),
        text=text,
        created_at=created_at,
        send_at=send_at,
        lists=tuple(rng.sample(pool, rng.choice((1, 2)))),
        role=role,
        total=total,
        npai=npai,
        finals=finals,
        dispatch_s=pace * total,
        settle_s=rng.uniform(20, 40) * 60,
        unit_cost=(1 if len(text) <= 160 else 2) * Decimal(rng.choice(("1", "1.087", "1.12"))),
    )


def endpoint_for(path: str) -> str:
    """Name the endpoint a path addresses: "history", "get" or "unknown"."""
    parts = [part for part in path.split("/") if part]
    if parts == ["campaigns"]:
        return "history"
    return "get" if len(parts) == 2 and parts[0] == "campaign" else "unknown"


def handle(
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    campaigns: Sequence[SmsfactorCampaign],
    now: datetime,
) -> Response:
    """Answer one GET request; campaigns created after ``now`` do not exist yet."""
    lowered = lower_keys(headers)
    as_json = "json" in lowered.get("accept", "").lower()
    endpoint = endpoint_for(path)
    if bearer_token(lowered) != DEMO_TOKEN:
        body = _failure(-1, "Unauthorized", "Missing or invalid API token")
        return _reply(endpoint, 401, body, as_json)
    visible = [campaign for campaign in campaigns if campaign.created_at <= now]
    if endpoint == "history":
        return _reply(endpoint, 200, _history(query, visible, now), as_json)
    if endpoint == "get":
        campaign_id = path.rstrip("/").rsplit("/", 1)[-1]
        for campaign in visible:
            if campaign.campaign_id == campaign_id:
                body = {"status": 1, "message": "OK", "campaign": [campaign.state_at(now)]}
                return _reply(endpoint, 200, body, as_json)
        body = _failure(-5, "Resource not found", f"Campaign {campaign_id} not found")
        return _reply(endpoint, 200, body, as_json)
    return _reply(endpoint, 404, _failure(-99, "Unknown error", f"No route {path}"), as_json)


def _history(
    query: Mapping[str, str], visible: list[SmsfactorCampaign], now: datetime
) -> dict[str, object]:
    start, length = int_param(query, "start", 0), int_param(query, "length", 100)
    if start is None or start < 0 or length is None or not 1 <= length <= 1000:
        return _failure(-7, "Data error", "start must be >= 0 and length between 1 and 1000")
    sort = query.get("sort") or "-id"
    if sort.lstrip("-") not in SORT_KEYS:
        return _failure(-7, "Data error", f"sort must be one of {', '.join(SORT_KEYS)}")
    bounds = [query.get("date_start") or "", query.get("date_end") or ""]
    for bound in filter(None, bounds):
        try:
            datetime.strptime(bound, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return _failure(-4, "Incorrect date", f"{bound!r} is not Y-m-d H:i:s")
    rows = [campaign.state_at(now) for campaign in visible]
    # Filter on the send date as the vendor shows it: Paris wall-clock strings compare in order.
    shown = [row for row in rows if bounds[0] <= str(row["date"]) <= (bounds[1] or "9999")]
    key = sort.lstrip("-")
    sort_keys = {"id": lambda row: int(row["id"]), "cost": lambda row: Decimal(row["cost"])}
    shown.sort(key=lambda row: (sort_keys.get(key, lambda r: r[key])(row), int(row["id"])))
    if sort.startswith("-"):
        shown.reverse()
    return {
        "status": 1,
        "message": "OK",
        "totalRecords": len(rows),
        "totalDisplayRecords": len(shown),
        "campaigns": shown[start : start + length],
    }


def _failure(status: int, message: str, details: str) -> dict[str, object]:
    return {"status": status, "message": message, "details": details}


def _reply(endpoint: str, status: int, payload: dict[str, object], as_json: bool) -> Response:
    if as_json:
        return Response(status, {"Content-Type": "application/json"}, json_body(payload), endpoint)
    return Response(status, {"Content-Type": "application/xml"}, to_xml(payload), endpoint)


def to_xml(payload: Mapping[str, object]) -> bytes:
    """Render a response the way the seed's XML example does (``<lists>`` once per list)."""
    root = ET.Element("response")
    for key, value in payload.items():
        if key == "campaign" and isinstance(value, list):
            for campaign in value:
                _campaign_xml(ET.SubElement(root, "campaign"), campaign)
        elif key == "campaigns" and isinstance(value, list):
            wrapper = ET.SubElement(root, "campaigns")
            for campaign in value:
                _campaign_xml(ET.SubElement(wrapper, "campaign"), campaign)
        else:
            ET.SubElement(root, key).text = str(value)
    ET.indent(root, space="    ")
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return (declaration + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")


def _campaign_xml(element: ET.Element, campaign: Mapping[str, object]) -> None:
    for key, value in campaign.items():
        if key == "lists" and isinstance(value, list):
            for item in value:
                ET.SubElement(ET.SubElement(element, "lists"), "id").text = str(item["id"])
        else:
            ET.SubElement(element, key).text = str(value)
