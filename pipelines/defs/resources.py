"""Dagster resources: the warehouse and one client factory per vendor.

Secrets arrive only through ``dg.EnvVar`` (Dagster shows the variable's name, never its
value). A vendor whose credential is unset is not polled, and the assets say so plainly.
Several accounts per vendor are configured in one place, the environment: the contract's
variable is account ``default``; ``NIXFLEX_API_KEY_<ACCOUNT>`` / ``SMSFACTOR_API_TOKEN_<ACCOUNT>``
add account ``<account>`` (lower-cased), optionally with its own ``…_BASE_URL_<ACCOUNT>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

import dagster as dg
import httpx
from sqlalchemy import Engine

from pipelines.polling.policy import PollingPolicy
from pipelines.privacy import Privacy
from pipelines.vendors import nixflex_client, smsfactor_client
from pipelines.vendors.ratelimit import limiter_for
from pipelines.vendors.transport import DEFAULT_TIMEOUT
from pipelines.warehouse.engine import reachable_engine
from pipelines.warehouse.migrate import ensure_migrated

DEFAULT_ACCOUNT = "default"
ACCOUNT_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,39}")  # NIXFLEX_API_KEY_<ACCOUNT>


class WarehouseResource(dg.ConfigurableResource):
    """The Postgres warehouse. ``url`` unset means the embedded server under ``.data/``.
    ``raw_retention_months`` (``RAW_RETENTION_MONTHS``): unset keeps every raw answer; N
    deletes the months of raw answers older than N months after each load
    (``pipelines.warehouse.retention``, and what it costs replay)."""

    url: str | None = None
    raw_retention_months: int | None = None

    def engine(self) -> Engine:
        """A pooled engine on an up-to-date schema (migrations applied on first use);
        ``WarehouseUnavailable``, saying where and why, when the server does not answer."""
        engine = reachable_engine(self.url)
        ensure_migrated(engine)
        return engine


def _http_client() -> httpx.Client:
    # TLS verification stays on (httpx default); every request has a timeout.
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": "sms-delivery-warehouse/0.1"},
    )


class PrivacyResource(dg.ConfigurableResource):
    """How recipients are written to ``sms``: ``PHONE_HASH_SALT`` unset keeps phone numbers
    and rendered messages as received; set, phones are pseudonymised with it and rendered
    messages left out (``pipelines.privacy``)."""

    phone_hash_salt: str | None = None

    def privacy(self) -> Privacy:
        return Privacy.from_setting(self.phone_hash_salt)


class VendorAccount(dg.Config):
    """One more account of a vendor: its name (``sms.dim_campaign.account``) and credential."""

    name: str
    secret: str
    base_url: str | None = None


class PollingResource(dg.ConfigurableResource):
    """How incremental polling behaves (see ``pipelines.polling.policy`` and the README)."""

    settle_hours: float = 72.0
    recheck_minutes: float = 60.0
    lookback_days: float = 14.0
    full_pass_hours: float = 24.0
    max_concurrency: int = 8
    nixflex_page_size: int = nixflex_client.MAX_PAGE_SIZE
    smsfactor_page_size: int = smsfactor_client.MAX_PAGE_SIZE

    def policy(
        self, *, refresh_all: bool = False, refresh_campaign_ids: Sequence[str] = ()
    ) -> PollingPolicy:
        return PollingPolicy(
            settle_window=timedelta(hours=self.settle_hours),
            recheck_every=timedelta(minutes=self.recheck_minutes),
            lookback=timedelta(days=self.lookback_days),
            full_pass_every=timedelta(hours=self.full_pass_hours),
            nixflex_page_size=self.nixflex_page_size,
            smsfactor_page_size=self.smsfactor_page_size,
            max_concurrency=self.max_concurrency,
            refresh_all=refresh_all,
            refresh_campaign_ids=frozenset(refresh_campaign_ids),
        )


def _credentials(
    default: str | None, base_url: str, accounts: list[VendorAccount]
) -> list[tuple[str, str, str]]:
    """(account, secret, base URL) of every configured account, ``default`` first."""
    found = [(DEFAULT_ACCOUNT, default, base_url)] if default else []
    found += [(a.name, a.secret, a.base_url or base_url) for a in accounts if a.secret]
    return found


class NixflexResource(dg.ConfigurableResource):
    """Nixflex API access: ``NIXFLEX_API_KEY`` (``KEY_ID:KEY_SECRET``, account ``default``),
    ``NIXFLEX_BASE_URL``, and one more account per ``NIXFLEX_API_KEY_<ACCOUNT>``."""

    api_key: str | None = None
    base_url: str = nixflex_client.DEFAULT_BASE_URL
    accounts: list[VendorAccount] = []

    @property
    def configured(self) -> bool:
        return bool(self.api_key) or bool(self.accounts)

    @contextmanager
    def clients(self) -> Iterator[list[nixflex_client.NixflexClient]]:
        """One client per configured account, each paced by its key's rate limiter."""
        if not self.configured:
            raise RuntimeError("NIXFLEX_API_KEY is not set: Nixflex is not polled")
        keys = _credentials(self.api_key, self.base_url, self.accounts)
        with _http_client() as http:
            yield [
                nixflex_client.NixflexClient(
                    http,
                    api_key=secret,
                    base_url=base_url,
                    account=name,
                    limiter=limiter_for("nixflex", secret, nixflex_client.RATE_LIMIT_PER_MINUTE),
                )
                for name, secret, base_url in keys
            ]


class SmsFactorResource(dg.ConfigurableResource):
    """SMSFactor API access: ``SMSFACTOR_API_TOKEN`` (account ``default``),
    ``SMSFACTOR_BASE_URL``, and one more account per ``SMSFACTOR_API_TOKEN_<ACCOUNT>``."""

    api_token: str | None = None
    base_url: str = smsfactor_client.DEFAULT_BASE_URL
    accounts: list[VendorAccount] = []

    @property
    def configured(self) -> bool:
        return bool(self.api_token) or bool(self.accounts)

    @contextmanager
    def clients(self) -> Iterator[list[smsfactor_client.SmsFactorClient]]:
        """One client per configured account (SMSFactor documents no rate limit: the
        limiter only follows the vendor's headers if it ever sends them)."""
        if not self.configured:
            raise RuntimeError("SMSFACTOR_API_TOKEN is not set: SMSFactor is not polled")
        tokens = _credentials(self.api_token, self.base_url, self.accounts)
        with _http_client() as http:
            yield [
                smsfactor_client.SmsFactorClient(
                    http,
                    api_token=secret,
                    base_url=base_url,
                    account=name,
                    limiter=limiter_for("smsfactor", secret, None),
                )
                for name, secret, base_url in tokens
            ]


def _env(name: str) -> dg.EnvVar | None:
    """``EnvVar(name)`` when the variable is set, else None (Dagster would refuse to start)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def extra_accounts(prefix: str, base_url_prefix: str) -> list[VendorAccount]:
    """``<prefix>_<ACCOUNT>`` variables that are set, as accounts named ``<account>``.

    The credential stays an ``EnvVar`` (resolved when a run starts, never printed); an
    account may have its own ``<base_url_prefix>_<ACCOUNT>``.
    """
    accounts = []
    for name in sorted(os.environ):
        suffix = name.removeprefix(prefix + "_")
        if name.startswith(prefix + "_") and ACCOUNT_NAME.fullmatch(suffix) and os.environ[name]:
            base_url = _env(f"{base_url_prefix}_{suffix}")
            accounts.append(
                VendorAccount(name=suffix.lower(), secret=dg.EnvVar(name), base_url=base_url)
            )
    return accounts


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources wired from the environment (read when the definitions load, values later)."""
    nixflex_kwargs = {"base_url": _env("NIXFLEX_BASE_URL")} if _env("NIXFLEX_BASE_URL") else {}
    smsfactor_kwargs = (
        {"base_url": _env("SMSFACTOR_BASE_URL")} if _env("SMSFACTOR_BASE_URL") else {}
    )
    return {
        "warehouse": WarehouseResource(
            url=_env("WAREHOUSE_URL"),
            raw_retention_months=dg.EnvVar.int("RAW_RETENTION_MONTHS")
            if os.environ.get("RAW_RETENTION_MONTHS")
            else None,
        ),
        "nixflex": NixflexResource(
            api_key=_env("NIXFLEX_API_KEY"),
            accounts=extra_accounts("NIXFLEX_API_KEY", "NIXFLEX_BASE_URL"),
            **nixflex_kwargs,
        ),
        "smsfactor": SmsFactorResource(
            api_token=_env("SMSFACTOR_API_TOKEN"),
            accounts=extra_accounts("SMSFACTOR_API_TOKEN", "SMSFACTOR_BASE_URL"),
            **smsfactor_kwargs,
        ),
        "polling": PollingResource(),
        "privacy": PrivacyResource(phone_hash_salt=_env("PHONE_HASH_SALT")),
    }
