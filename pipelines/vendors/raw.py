"""The raw record of one vendor answer, exactly as it came off the wire."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KEPT_HEADERS = (
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "date",
)


@dataclass(frozen=True)
class RawResponse:
    """One HTTP answer from a vendor, kept before anything interprets it.

    ``endpoint`` is a stable logical name (``campaigns.list``, ``campaign.get``,
    ``campaigns.history``); ``campaign_id`` is set for per-campaign requests; ``headers``
    keeps the few response headers worth keeping (rate limits, retry hints), lower-cased;
    ``account`` names the configured vendor account (API key) that asked.
    """

    provider: str
    endpoint: str
    path: str
    params: dict[str, Any]
    http_status: int
    content_type: str
    body: bytes
    fetched_at: datetime
    campaign_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    account: str = "default"
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "content_hash", hashlib.sha256(self.body).hexdigest())

    def json_payload(self) -> Any | None:
        """The body as JSON when it is valid JSON, else None. Valid JSON that Postgres
        ``jsonb`` could not hold (a ``\\u0000`` escape) is JSON all the same: the landing
        keeps the bytes (``raw.vendor_response.body``), never a ``jsonb`` of them, and the
        readers refuse a NUL only where the warehouse would store it (keys:
        ``fields.identifier``)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
