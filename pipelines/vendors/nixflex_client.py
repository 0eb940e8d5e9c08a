"""Nixflex HTTP client: list (paged to the end) and get, with errors turned into exceptions.

The client is *given* its ``httpx.Client`` (tests pass a transport, the asset a real one).
It returns ``RawResponse`` objects so the caller can land them before anything reads them;
it parses list pages only as far as paging needs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from pipelines.vendors import nixflex_parse
from pipelines.vendors.errors import (
    VendorAuthError,
    VendorError,
    VendorNotFound,
    VendorRateLimited,
    VendorRequestError,
    VendorUnavailable,
)
from pipelines.vendors.ratelimit import retry_after_seconds
from pipelines.vendors.raw import RawResponse
from pipelines.vendors.records import NixflexSummary, Unreadable
from pipelines.vendors.transport import VendorClient

PROVIDER = "nixflex"
DEFAULT_BASE_URL = "https://api.nixflex.com/v1"
MAX_PAGE_SIZE = 100  # documented maximum of ?limit=
RATE_LIMIT_PER_MINUTE = 600  # documented: GET 600/min per API key
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListPage:
    """One list page: its raw answer, and its summaries when the page could be read."""

    raw: RawResponse
    summaries: list[NixflexSummary]
    problem: str | None = None


def decipher(raw: RawResponse) -> None:
    """Raise the matching ``VendorError`` for an error answer; return for a 2xx."""
    if 200 <= raw.http_status < 300:
        return
    payload = raw.json_payload()
    err: dict[str, Any] = payload.get("error", {}) if isinstance(payload, dict) else {}
    if not isinstance(err, dict):
        err = {}
    code = err.get("code") if isinstance(err.get("code"), str) else None
    message = str(err.get("message") or f"{err.get('type') or 'error'} on {raw.path}")
    kwargs: dict[str, Any] = {"http_status": raw.http_status, "code": code, "response": raw}
    status = raw.http_status
    if status in (401, 403):
        raise VendorAuthError(PROVIDER, f"the API key was refused: {message}", **kwargs)
    if status == 404:
        raise VendorNotFound(PROVIDER, message, **kwargs)
    if status == 429:
        details = err.get("details") if isinstance(err.get("details"), dict) else {}
        # The Retry-After header wins (0 means "now"); the body's details.retry_after is
        # the fallback.
        hint = retry_after_seconds(raw.headers.get("retry-after"))
        if hint is None:
            hint = _as_seconds(details.get("retry_after"))
        raise VendorRateLimited(PROVIDER, message, retry_after=hint, **kwargs)
    if status >= 500:
        raise VendorUnavailable(PROVIDER, message, **kwargs)
    raise VendorRequestError(PROVIDER, message, **kwargs)


def _as_seconds(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class NixflexClient(VendorClient):
    """Read-only Nixflex API client for one API key (``KEY_ID:KEY_SECRET``)."""

    provider = PROVIDER
    default_base_url = DEFAULT_BASE_URL
    decipher = staticmethod(decipher)

    def __init__(self, http: httpx.Client, *, api_key: str, **options: Any) -> None:
        """``options``: ``base_url``, ``policy``, ``account``, ``limiter`` (``VendorClient``)."""
        super().__init__(http, secret=api_key, **options)

    def get_campaign(self, campaign_id: str) -> RawResponse:
        """``GET /sms/campaigns/{id}``: the campaign with every recipient."""
        return self._get(f"/sms/campaigns/{campaign_id}", "campaign.get", {}, campaign_id)

    def list_pages(
        self, *, page_size: int = MAX_PAGE_SIZE, status: str | None = None
    ) -> Iterator[ListPage]:
        """``GET /sms/campaigns`` newest first, page after page until a short page; only the
        campaigns in ``status`` when given (the documented filter).

        Whether ``count`` is the page size or the overall total is not documented, so
        paging ends on a page shorter than ``limit`` and never trusts ``count``. A page that
        cannot be read ends paging (it is still yielded, to be landed and quarantined);
        a vendor that ignores ``offset`` (the same page twice) ends it too.
        """
        offset, previous_hash = 0, None
        while True:
            params: dict[str, Any] = {"limit": page_size, "offset": offset}
            if status is not None:
                params["status"] = status
            raw = self._get("/sms/campaigns", "campaigns.list", params)
            if raw.content_hash == previous_hash:
                log.warning(
                    "nixflex list: offset %d returned the previous page again; stopping", offset
                )
                yield ListPage(raw, [], "same page returned twice: vendor ignored offset")
                return
            try:
                batch = nixflex_parse.parse_list(raw.json_payload())
            except Unreadable as exc:
                yield ListPage(raw, [], exc.reason)
                return
            yield ListPage(raw, batch.items)
            if len(batch.items) + len(batch.rejected) < page_size:
                return
            offset += page_size
            previous_hash = raw.content_hash


__all__ = ["DEFAULT_BASE_URL", "ListPage", "NixflexClient", "VendorError", "decipher"]
