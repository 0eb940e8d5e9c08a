"""The vendors as data: one declaration each, read by the resources (credentials, clients),
the raw assets (what is polled, in which pool) and the jobs.

A vendor's accounts come from its environment variables: ``<secret>`` is account
``default``; ``<secret>_<ACCOUNT>`` adds account ``<account>`` (lower-cased), optionally with
its own ``<base_url>_<ACCOUNT>``; ``<base_url>`` points every other account elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pipelines.fetch import FetchReport, fetch_nixflex, fetch_smsfactor
from pipelines.vendors import nixflex_client, smsfactor_client
from pipelines.vendors.transport import VendorClient


@dataclass(frozen=True)
class VendorEnv:
    """The names of a vendor's environment variables (see the module's docstring)."""

    secret: str
    base_url: str


@dataclass(frozen=True)
class Vendor:
    """One vendor: what is polled, with which credential, and how its list is read."""

    name: str  # provider in raw.vendor_response, resource key, asset group
    label: str  # how people write it
    env: VendorEnv
    secret_field: str  # the credential's resource config field and client keyword
    client: type[VendorClient]
    rate_limit_per_minute: int | None  # documented limit per key; None: none documented
    pool: str  # Dagster concurrency pool (limit 1): one poll of a vendor at a time
    landed: str  # what its raw asset lands, for its description
    fetch: Callable[..., FetchReport]  # one incremental poll of one account

    @property
    def not_configured(self) -> str:
        return f"{self.env.secret} is not set: {self.label} is not polled."

    def new_client(self, http: httpx.Client, secret: str, **options: object) -> VendorClient:
        """A client of one account; ``options`` as ``VendorClient`` takes them."""
        return self.client(http, **{self.secret_field: secret}, **options)


NIXFLEX = Vendor(
    name="nixflex",
    label="Nixflex",
    env=VendorEnv("NIXFLEX_API_KEY", "NIXFLEX_BASE_URL"),
    secret_field="api_key",
    client=nixflex_client.NixflexClient,
    rate_limit_per_minute=nixflex_client.RATE_LIMIT_PER_MINUTE,
    pool="nixflex_api",
    landed="answer (list pages and campaign details)",
    fetch=fetch_nixflex,
)
# SMSFactor documents no rate limit: its limiter only follows the headers it may send.
SMSFACTOR = Vendor(
    name="smsfactor",
    label="SMSFactor",
    env=VendorEnv("SMSFACTOR_API_TOKEN", "SMSFACTOR_BASE_URL"),
    secret_field="api_token",
    client=smsfactor_client.SmsFactorClient,
    rate_limit_per_minute=None,
    pool="smsfactor_api",
    landed="campaign-history page",
    fetch=fetch_smsfactor,
)
VENDORS = (NIXFLEX, SMSFACTOR)
