"""The simulated Nixflex API: campaign plans, their state at time t, and pure request handling.

Shapes follow the seed page (``GET /v1/sms/campaigns/{id}``) and the documented list endpoint;
``handle`` maps (path, query, headers, campaigns, now) to a ``Response`` with no I/O. Paths are
relative to the mount point ``{base}/nixflex/v1``.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipelines.simulator.model import (
    FIRST_NAMES,
    NIXFLEX_TEMPLATES,
    Response,
    bearer_token,
    campaign_rng,
    dispatch_pace,
    hex_token,
    int_param,
    iso_z,
    json_body,
    lower_keys,
    whole_seconds,
)

DEMO_KEY = "nxf_demo:nxfs_demo_secret"
CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "done", "failed")
DETAIL_FIELDS = (
    "campaign_id", "name", "agent_id", "from_number", "message_template", "status",
    "total_count", "delivered_count", "failed_count", "pending_count", "source",
    "scheduled_at", "created_at", "recipients",
)  # fmt: skip
# Twilio error texts as Nixflex relays them (codes 30003, 30005, 30006, 30007).
UNDELIVERED_ERRORS = ("Unknown handset", "Unreachable handset", "Landline or unreachable carrier")
FAILED_ERRORS = ("Message filtered", "Unreachable handset", "Unknown handset")
NIXFLEX_STATUS_ORDER = ("pending", "queued", "sent", "delivered", "undelivered", "failed")


@dataclass(frozen=True, slots=True)
class NixflexRecipient:
    """One recipient's static plan; offsets are seconds after the campaign's send start."""

    phone: str
    first_name: str
    rendered_message: str
    twilio_sid: str
    queued_s: float
    sent_s: float
    final_s: float  # math.inf when no delivery receipt ever arrives (stays "sent")
    outcome: str
    error_message: str | None
    sent_at: str

    def status(self, elapsed: float) -> str:
        """Status ``elapsed`` seconds after send start; only ever moves forward."""
        if elapsed < self.queued_s:
            return "pending"
        if elapsed < self.sent_s:
            return "queued"
        if elapsed < self.final_s:
            return "sent"
        return self.outcome


@dataclass(frozen=True)
class NixflexCampaign:
    """A Nixflex campaign's static plan; ``send_start`` is None for a draft."""

    campaign_id: str
    name: str
    agent_id: str
    from_number: str
    message_template: str
    source: str
    created_at: datetime
    scheduled_at: datetime | None
    send_start: datetime | None
    recipients: tuple[NixflexRecipient, ...]

    def elapsed(self, now: datetime) -> float:
        """Seconds since send start (negative before it, -inf for a draft)."""
        if self.send_start is None:
            return -math.inf
        return (now - self.send_start).total_seconds()

    def status_at(self, now: datetime, counts: dict[str, int]) -> str:
        """Campaign status at ``now`` given the counts computed for the same instant."""
        if self.send_start is None:
            return "draft"
        if self.scheduled_at is not None and now < self.send_start:
            return "scheduled"
        return "running" if counts["pending_count"] else "done"

    def counts_at(self, now: datetime) -> dict[str, int]:
        """Counts by the documented rule: a final ``sent`` is a soft failure."""
        elapsed = self.elapsed(now)
        tally = dict.fromkeys(NIXFLEX_STATUS_ORDER, 0)
        for recipient in self.recipients:
            tally[recipient.status(elapsed)] += 1
        return {
            "total_count": len(self.recipients),
            "delivered_count": tally["delivered"],
            "failed_count": tally["failed"] + tally["undelivered"] + tally["sent"],
            "pending_count": tally["pending"] + tally["queued"],
        }


def nixflex_agents(seed: int) -> list[tuple[str, str]]:
    """The account's agents as (agent_id, from_number); campaigns are spread over them."""
    rng = random.Random(f"{seed}:nixflex:agents")
    return [(f"agent_{hex_token(rng, 16)}", f"+4474{rng.randrange(10**8):08d}") for _ in range(3)]


def build_nixflex_campaign(
    seed: int,
    index: int,
    created_at: datetime,
    anchor: datetime,
    role: str = "",
    in_flight: bool = False,
    size: int | None = None,
) -> NixflexCampaign:
    """Draw campaign ``index``'s plan; ``role`` is "", "draft" or "scheduled"."""
    rng = campaign_rng(seed, "nixflex", index)
    campaign_id = f"smsc_{hashlib.sha256(f'{seed}:nixflex:{index}'.encode()).hexdigest()[:8]}"
    name, template = rng.choice(NIXFLEX_TEMPLATES)
    agent_id, from_number = rng.choice(nixflex_agents(seed))
    source = rng.choice(("dashboard", "api"))
    size = size if size is not None else rng.randint(20, 400)
    scheduled_at = None
    send_start = created_at + timedelta(seconds=rng.randint(2, 30))
    if role == "scheduled":
        scheduled_at = send_start = whole_seconds(anchor + timedelta(hours=rng.uniform(2, 30)))
    pace = dispatch_pace(rng, size, send_start, anchor, in_flight)
    recipients = []
    for i, number in enumerate(rng.sample(range(10**8), 0 if role == "draft" else size)):
        first_name = rng.choice(FIRST_NAMES)
        queued_s = float(int(i * pace + rng.uniform(0, 2)))
        sent_s = queued_s + 1 + min(int(rng.expovariate(1 / 6)), 600)
        roll = rng.random()
        outcome = "delivered" if roll < 0.90 else "undelivered" if roll < 0.94 else "failed"
        outcome = "sent" if roll >= 0.97 else outcome
        late = rng.random() < 0.01
        receipt = rng.uniform(1800, 48 * 3600) if late else rng.uniform(60, 1800)
        errors = UNDELIVERED_ERRORS if outcome == "undelivered" else FAILED_ERRORS
        recipients.append(
            NixflexRecipient(
                phone=f"+4477{number:08d}",
                first_name=first_name,
                rendered_message=template.replace("{{first_name}}", first_name),
                twilio_sid=f"SM{hex_token(rng, 32)}",
                queued_s=queued_s,
                sent_s=sent_s,
                final_s=math.inf if outcome == "sent" else float(int(sent_s + receipt)),
                outcome=outcome,
                error_message=rng.choice(errors) if outcome in ("undelivered", "failed") else None,
                sent_at=iso_z(send_start + timedelta(seconds=sent_s)),
            )
        )
    return NixflexCampaign(
        campaign_id=campaign_id,
        name=name,
        agent_id=agent_id,
        from_number=from_number,
        message_template=template,
        source=source,
        created_at=created_at,
        scheduled_at=scheduled_at,
        send_start=None if role == "draft" else send_start,
        recipients=tuple(recipients),
    )


def endpoint_for(path: str) -> str:
    """Name the endpoint a path addresses: "list", "get" or "unknown"."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["sms", "campaigns"] and len(parts) in (2, 3):
        return "list" if len(parts) == 2 else "get"
    return "unknown"


def handle(
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    campaigns: Sequence[NixflexCampaign],
    now: datetime,
    miscounted: Collection[str] = (),
) -> Response:
    """Answer one GET request; campaigns created after ``now`` do not exist yet."""
    endpoint = endpoint_for(path)
    if bearer_token(lower_keys(headers)) != DEMO_KEY:
        return _error(endpoint, 401, "authentication_error", "invalid_api_key", "Invalid API key.")
    visible = [campaign for campaign in campaigns if campaign.created_at <= now]
    if endpoint == "list":
        return _list(query, visible, now, miscounted)
    if endpoint == "get":
        campaign_id = path.rstrip("/").rsplit("/", 1)[-1]
        for campaign in visible:
            if campaign.campaign_id == campaign_id:
                return _json("get", 200, _detail(campaign, now, campaign_id in miscounted))
        message = f"Campaign {campaign_id} does not exist or is not yours."
        return _error("get", 404, "not_found", "campaign_not_found", message)
    return _error(endpoint, 404, "not_found", "route_not_found", f"No route for {path}.")


def _list(
    query: Mapping[str, str],
    visible: list[NixflexCampaign],
    now: datetime,
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
    newest_first = sorted(visible, key=lambda campaign: campaign.created_at)[::-1]
    mine = [c for c in newest_first if agent_id is None or c.agent_id == agent_id]
    summaries = [_summary(c, now, c.campaign_id in miscounted) for c in mine]
    summaries = [summary for summary in summaries if status in (None, summary["status"])]
    page = summaries[offset : offset + limit]
    return _json("list", 200, {"campaigns": page, "count": len(summaries)})


def _summary(campaign: NixflexCampaign, now: datetime, miscounted: bool) -> dict[str, object]:
    counts = campaign.counts_at(now)
    status = campaign.status_at(now, counts)
    if miscounted:  # planted vendor inconsistency: counts disagree with the recipients
        counts["delivered_count"] += 1
        counts["failed_count"] -= 1
    return {
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "agent_id": campaign.agent_id,
        "from_number": campaign.from_number,
        "status": status,
        **counts,
        "source": campaign.source,
        "created_at": iso_z(campaign.created_at),
    }


def _detail(campaign: NixflexCampaign, now: datetime, miscounted: bool) -> dict[str, object]:
    summary = _summary(campaign, now, miscounted)
    elapsed = campaign.elapsed(now)
    recipients = []
    for plan in campaign.recipients:
        status = plan.status(elapsed)
        recipient: dict[str, object] = {
            "phone": plan.phone,
            "variables": {"first_name": plan.first_name},
            "status": status,
            "twilio_sid": None if status == "pending" else plan.twilio_sid,
            "rendered_message": plan.rendered_message,
        }
        if status in ("undelivered", "failed"):
            recipient["error_message"] = plan.error_message
        recipient["sent_at"] = None if status in ("pending", "queued") else plan.sent_at
        recipients.append(recipient)
    scheduled_at = None if campaign.scheduled_at is None else iso_z(campaign.scheduled_at)
    fields = {**summary, "message_template": campaign.message_template}
    fields.update(scheduled_at=scheduled_at, recipients=recipients)
    return {key: fields[key] for key in DETAIL_FIELDS}


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
