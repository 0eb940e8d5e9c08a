"""One exception hierarchy for both vendor boundaries, sorted by what a caller can do about it.

Callers catch by meaning: ``VendorRetriable`` errors are retried by the transport with a
bounded budget; everything else is fatal for the request that raised it. Messages never carry
credentials: they are built from the vendor's own error text and the request path only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.vendors.raw import RawResponse


class VendorError(Exception):
    """A vendor answered something other than the data asked for (or did not answer)."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        response: RawResponse | None = None,
    ) -> None:
        self.provider = provider
        self.http_status = http_status
        self.code = code
        self.response = response
        status = f"HTTP {http_status}" if http_status is not None else "no HTTP answer"
        detail = f" [{code}]" if code else ""
        super().__init__(f"{provider}: {message} ({status}){detail}")


class VendorFatal(VendorError):
    """Retrying the same request cannot succeed."""


class VendorAuthError(VendorFatal):
    """The credential was refused: fix the API key or token."""


class VendorNotFound(VendorFatal):
    """The resource does not exist (or is not visible to this account)."""


class VendorRequestError(VendorFatal):
    """The vendor rejected the request itself (bad parameter, no credits, moderation…)."""


class VendorRetriable(VendorError):
    """A transient failure: rate limited, vendor broken, network trouble."""


class VendorRateLimited(VendorRetriable):
    """HTTP 429. ``retry_after`` (seconds) is the vendor's own hint when it gave one."""

    def __init__(
        self, provider: str, message: str, *, retry_after: float | None = None, **kwargs: object
    ) -> None:
        super().__init__(provider, message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class VendorUnavailable(VendorRetriable):
    """5xx, timeouts and connection failures."""
