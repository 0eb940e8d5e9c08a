"""SMSFactor HTTP client: campaign history (paged to the end) and get.

Always sends ``Accept: application/json`` (without it the API answers XML), yet reads XML
too when that is what comes back. SMSFactor reports errors in the body with a negative
``status``, possibly on HTTP 200: those become the same exceptions as HTTP errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from pipelines.vendors import smsfactor_parse
from pipelines.vendors.errors import (
    VendorAuthError,
    VendorNotFound,
    VendorRateLimited,
    VendorRequestError,
    VendorUnavailable,
)
from pipelines.vendors.fields import paris_wall_clock
from pipelines.vendors.ratelimit import retry_after_seconds
from pipelines.vendors.raw import RawResponse
from pipelines.vendors.records import SmsFactorCampaign, Unreadable
from pipelines.vendors.transport import VendorClient

PROVIDER = "smsfactor"
DEFAULT_BASE_URL = "https://api.smsfactor.com"
MAX_PAGE_SIZE = 1000  # documented maximum of ?length=
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryPage:
    """One history page: its raw answer, and its campaigns when the page could be read."""

    raw: RawResponse
    campaigns: list[SmsFactorCampaign]
    problem: str | None = None


def decipher(raw: RawResponse) -> None:
    """Raise the matching ``VendorError`` for an error answer, by HTTP status then body status.

    An unreadable 2xx body is *not* an error here: it is landed and quarantined by the loader.
    """
    kwargs: dict[str, Any] = {"http_status": raw.http_status, "response": raw}
    try:
        doc = smsfactor_parse.decode(raw.body)
        error = smsfactor_parse.error_of(doc)
    except Unreadable:
        doc, error = None, None
    code, message = error if error else (None, f"HTTP {raw.http_status} on {raw.path}")
    if code is not None:
        kwargs["code"] = str(code)
    status = raw.http_status
    if status in (401, 403) or code == -1:
        raise VendorAuthError(PROVIDER, f"the API token was refused: {message}", **kwargs)
    if status == 429:
        raise VendorRateLimited(
            PROVIDER,
            message,
            retry_after=retry_after_seconds(raw.headers.get("retry-after")),
            **kwargs,
        )
    if status >= 500 or code == -99:
        raise VendorUnavailable(PROVIDER, message, **kwargs)
    if status == 404 or code == -5:
        raise VendorNotFound(PROVIDER, message, **kwargs)
    if status >= 400 or error is not None:
        raise VendorRequestError(PROVIDER, message, **kwargs)


class SmsFactorClient(VendorClient):
    """Read-only SMSFactor API client for one bearer token."""

    provider = PROVIDER
    default_base_url = DEFAULT_BASE_URL
    decipher = staticmethod(decipher)

    def __init__(self, http: httpx.Client, *, api_token: str, **options: Any) -> None:
        """``options``: ``base_url``, ``policy``, ``account``, ``limiter`` (``VendorClient``)."""
        super().__init__(http, secret=api_token, **options)

    def get_campaign(self, campaign_id: str) -> RawResponse:
        """``GET /campaign/{id}``."""
        return self._get(f"/campaign/{campaign_id}", "campaign.get", {}, campaign_id)

    def history_pages(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        sort: str = "-date",
        date_start: datetime | None = None,
    ) -> Iterator[HistoryPage]:
        """``GET /campaigns`` page after page in ``sort`` order (newest send date first by
        default), until ``totalRecords`` is reached; only campaigns sent from ``date_start``
        on when given (the documented filter on the send date, in Paris wall-clock time).

        Paging also ends on a short or empty page (when ``totalRecords`` is missing or
        wrong) and on a page that cannot be read (yielded, to be landed and quarantined).
        """
        filters: dict[str, Any] = {"sort": sort}
        if date_start is not None:
            filters["date_start"] = paris_wall_clock(date_start)
        start, previous_hash = 0, None
        while True:
            raw = self._get(
                "/campaigns",
                "campaigns.history",
                {"start": start, "length": page_size, **filters},
            )
            if raw.content_hash == previous_hash:
                log.warning(
                    "smsfactor history: start=%d returned the previous page again; stopping", start
                )
                yield HistoryPage(raw, [], "same page returned twice: vendor ignored start")
                return
            page, rows, total = _read_history_page(raw)
            yield page
            start += rows
            if page.problem or rows < page_size or (total is not None and start >= total):
                return
            previous_hash = raw.content_hash


def _read_history_page(raw: RawResponse) -> tuple[HistoryPage, int, int | None]:
    """The page, how many rows it held (read or rejected) and ``totalRecords`` if given."""
    try:
        doc = smsfactor_parse.decode(raw.body)
        batch = smsfactor_parse.parse_campaigns(doc)
    except Unreadable as exc:
        return HistoryPage(raw, [], exc.reason), 0, None
    rows = len(batch.items) + len(batch.rejected)
    return HistoryPage(raw, batch.items), rows, smsfactor_parse.total_records(doc)
