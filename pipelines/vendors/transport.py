"""The small I/O part shared by both clients: send one GET, retry what is retriable.

The clients build requests and decipher answers; this module only moves bytes and applies
the retry policy. Retries come from tenacity with a bounded budget: exponential backoff with
jitter, except that a vendor's own ``Retry-After`` hint wins when it gave one. A 429 is
waited out for much longer than other failures (``rate_limited_seconds``): being told to
slow down is not a reason to give up. Every request goes through the key's ``RateLimiter``
when one is given.

A vendor that echoes the credential back (in an error message, say) must not get it into
the warehouse, an exception or a log line: every occurrence of it in an answer's body and
kept headers is replaced by ``[redacted]`` before the answer leaves this module, so all
that is built from the answer afterwards (the raw landing, error messages) is clean.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from pipelines import clock
from pipelines.vendors.errors import VendorRateLimited, VendorRetriable, VendorUnavailable
from pipelines.vendors.ratelimit import RateLimiter, retry_after_seconds
from pipelines.vendors.raw import KEPT_HEADERS, RawResponse

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter pieces are not worth hiding and would mangle ordinary text


def credential_parts(headers: Mapping[str, str]) -> tuple[str, ...]:
    """What of the request's credential must never be repeated: the bearer token and, for
    Nixflex's ``KEY_ID:KEY_SECRET``, each of its two parts."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    token = auth.removeprefix("Bearer").strip()
    parts = {token, *token.split(":")} if token else set()
    return tuple(sorted((p for p in parts if len(p) >= _MIN_SECRET), key=len, reverse=True))


def redact(data: bytes, secrets: tuple[str, ...]) -> bytes:
    """``data`` with every occurrence of each secret replaced by ``[redacted]``."""
    for secret in secrets:
        raw = secret.encode()
        if raw in data:
            data = data.replace(raw, REDACTED.encode())
    return data


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on one request."""

    attempts: int = 5
    max_seconds: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 30.0
    rate_limited_attempts: int = 40  # a run of 429s is waited out much longer than errors
    rate_limited_seconds: float = 900.0


def _retry_wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, VendorRateLimited) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), policy.max_wait)
        return backoff(state)

    return wait


def _retry_stop(policy: RetryPolicy) -> Callable[[RetryCallState], bool]:
    usual = stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds)
    patient = stop_after_attempt(policy.rate_limited_attempts) | stop_after_delay(
        policy.rate_limited_seconds
    )

    def stop(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return patient(state) if isinstance(exc, VendorRateLimited) else usual(state)

    return stop


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("retrying after %s (attempt %d)", exc, state.attempt_number)


@dataclass(frozen=True)
class VendorRequest:
    """One GET to a vendor: where it goes, what it carries, and what its answer is about."""

    provider: str
    endpoint: str  # the vendor's operation, as landed (``campaigns.list``)
    url: str
    path: str
    params: Mapping[str, Any]
    headers: Mapping[str, str]
    campaign_id: str | None = None
    account: str = "default"


def _send(
    http: httpx.Client, request: VendorRequest, limiter: RateLimiter | None
) -> tuple[httpx.Response, bytes]:
    """The answer and its body read in full, through the key's limiter when one is given."""
    secrets = credential_parts(request.headers)
    if limiter is not None:
        limiter.acquire()
    answered: httpx.Response | None = None
    try:
        response = http.get(request.url, params=dict(request.params), headers=dict(request.headers))
        body = redact(response.read(), secrets)
        answered = response
    except httpx.TimeoutException as exc:
        raise VendorUnavailable(
            request.provider, f"timed out on {request.path}: {type(exc).__name__}"
        ) from exc
    except httpx.TransportError as exc:
        raise VendorUnavailable(
            request.provider, f"connection failed on {request.path}: {exc}"
        ) from exc
    finally:
        if limiter is not None:
            limiter.release(
                answered.status_code if answered is not None else None,
                {k.lower(): v for k, v in answered.headers.items()} if answered else None,
            )
    return response, body


def _raw_response(request: VendorRequest, response: httpx.Response, body: bytes) -> RawResponse:
    """The answer as landed: its body and kept headers with the credential redacted."""
    secrets = credential_parts(request.headers)

    def clean(value: str) -> str:
        return redact(value.encode(), secrets).decode(errors="replace")

    return RawResponse(
        provider=request.provider,
        endpoint=request.endpoint,
        path=request.path,
        params=dict(request.params),
        http_status=response.status_code,
        content_type=clean(response.headers.get("content-type", "")),
        body=body,
        fetched_at=clock.utcnow(),
        campaign_id=request.campaign_id,
        account=request.account,
        headers={k: clean(response.headers[k]) for k in KEPT_HEADERS if k in response.headers},
    )


def fetch(
    http: httpx.Client,
    request: VendorRequest,
    decipher: Callable[[RawResponse], None],
    *,
    policy: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
) -> RawResponse:
    """GET ``request`` and return the raw answer once ``decipher`` accepts it.

    ``decipher`` raises a ``VendorError`` for an error answer; retriable ones are retried
    under ``policy``, the last error (carrying the raw answer) is raised when it runs out.
    """
    policy = policy or RetryPolicy()

    def once() -> RawResponse:
        raw = _raw_response(request, *_send(http, request, limiter))
        decipher(raw)
        return raw

    retrying = Retrying(
        retry=retry_if_exception_type(VendorRetriable),
        stop=_retry_stop(policy),
        wait=_retry_wait(policy),
        before_sleep=_log_retry,
        reraise=True,
    )
    return retrying(once)


class VendorClient:
    """What both vendors' clients share: one credential, one account, GETs through ``fetch``.

    A client subclass names its ``provider`` and ``default_base_url`` and deciphers its
    vendor's error answers (``decipher``); the credential goes out as a bearer token.
    """

    provider: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        http: httpx.Client,
        *,
        secret: str,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        account: str = "default",
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self.account = account
        self.limiter = limiter
        self._base = (base_url or self.default_base_url).rstrip("/")
        self._headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
        self._policy = policy

    def decipher(self, raw: RawResponse) -> None:
        """Raise the matching ``VendorError`` for an error answer."""
        raise NotImplementedError

    def _get(
        self, path: str, endpoint: str, params: dict[str, Any], campaign_id: str | None = None
    ) -> RawResponse:
        request = VendorRequest(
            self.provider,
            endpoint,
            self._base + path,
            path,
            params,
            self._headers,
            campaign_id,
            self.account,
        )
        return fetch(self._http, request, self.decipher, policy=self._policy, limiter=self.limiter)


__all__ = [
    "DEFAULT_TIMEOUT",
    "REDACTED",
    "RetryPolicy",
    "VendorClient",
    "VendorRequest",
    "credential_parts",
    "fetch",
    "redact",
    "retry_after_seconds",
]
