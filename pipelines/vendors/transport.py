"""The small I/O part shared by both clients: send one GET, retry what is retriable.

The clients build requests and decipher answers; this module only moves bytes and applies
the retry policy. Retries come from tenacity with a bounded budget: exponential backoff with
jitter, except that a vendor's own ``Retry-After`` hint wins when it gave one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from pipelines.vendors.errors import VendorRateLimited, VendorRetriable, VendorUnavailable
from pipelines.vendors.raw import KEPT_HEADERS, RawResponse

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on one request."""

    attempts: int = 5
    max_seconds: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 30.0


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, VendorRateLimited) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), policy.max_wait)
        return backoff(state)

    return wait


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("retrying after %s (attempt %d)", exc, state.attempt_number)


def fetch(
    http: httpx.Client,
    *,
    provider: str,
    endpoint: str,
    url: str,
    path: str,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
    decipher: Callable[[RawResponse], None],
    campaign_id: str | None = None,
    policy: RetryPolicy | None = None,
) -> RawResponse:
    """GET ``url`` and return the raw answer once ``decipher`` accepts it.

    ``decipher`` raises a ``VendorError`` for an error answer; retriable ones are retried
    under ``policy``, the last error (carrying the raw answer) is raised when it runs out.
    """
    policy = policy or RetryPolicy()

    def once() -> RawResponse:
        try:
            response = http.get(url, params=dict(params), headers=dict(headers))
            body = response.read()
        except httpx.TimeoutException as exc:
            raise VendorUnavailable(provider, f"timed out on {path}: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise VendorUnavailable(provider, f"connection failed on {path}: {exc}") from exc
        raw = RawResponse(
            provider=provider,
            endpoint=endpoint,
            path=path,
            params=dict(params),
            http_status=response.status_code,
            content_type=response.headers.get("content-type", ""),
            body=body,
            fetched_at=datetime.now(UTC),
            campaign_id=campaign_id,
            headers={k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
        )
        decipher(raw)
        return raw

    retrying = Retrying(
        retry=retry_if_exception_type(VendorRetriable),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
        wait=_wait(policy),
        before_sleep=_log_retry,
        reraise=True,
    )
    return retrying(once)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
