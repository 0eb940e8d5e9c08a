"""Dagster resources: the warehouse, the polling policy and one per vendor, the vendors'
built from their declarations (``pipelines.vendors.declared``).

Secrets arrive only through ``dg.EnvVar`` (Dagster shows the variable's name, never its
value). A vendor whose credential is unset is not polled, and the assets say so plainly.
Several accounts per vendor are configured in one place, the environment: ``NIXFLEX_API_KEY``
/ ``SMSFACTOR_API_TOKEN`` is account ``default``; ``NIXFLEX_API_KEY_<ACCOUNT>`` /
``SMSFACTOR_API_TOKEN_<ACCOUNT>`` add account ``<account>`` (lower-cased), optionally with its
own ``…_BASE_URL_<ACCOUNT>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import timedelta
from typing import ClassVar

import dagster as dg
import httpx
from sqlalchemy import Engine

from pipelines.polling.policy import PollingPolicy
from pipelines.vendors.declared import NIXFLEX, SMSFACTOR, Vendor
from pipelines.vendors.ratelimit import limiter_for
from pipelines.vendors.transport import DEFAULT_TIMEOUT, VendorClient
from pipelines.warehouse.detection import DetectionSettings
from pipelines.warehouse.engine import reachable_engine
from pipelines.warehouse.migrate import ensure_migrated
from pipelines.warehouse.privacy import Privacy

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
    messages left out (``pipelines.warehouse.privacy``)."""

    phone_hash_salt: str | None = None

    def privacy(self) -> Privacy:
        return Privacy.from_setting(self.phone_hash_salt)


class VendorAccount(dg.Config):
    """One more account of a vendor: its name (``sms.dim_campaign.account``) and credential."""

    name: str
    secret: str
    base_url: str | None = None


_POLICY = PollingPolicy()  # the defaults, defined once


class PollingResource(dg.ConfigurableResource):
    """How incremental polling behaves (see ``pipelines.polling.policy`` and the README)."""

    settle_hours: float = _POLICY.settle_window / timedelta(hours=1)
    recheck_minutes: float = _POLICY.recheck_every / timedelta(minutes=1)
    lookback_days: float = _POLICY.lookback / timedelta(days=1)
    full_pass_hours: float = _POLICY.full_pass_every / timedelta(hours=1)
    max_concurrency: int = _POLICY.max_concurrency
    nixflex_page_size: int = _POLICY.nixflex_page_size
    smsfactor_page_size: int = _POLICY.smsfactor_page_size

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


class VendorResource(dg.ConfigurableResource):
    """A vendor's API access, per its declaration (``vendor``): the credential of account
    ``default`` (the subclass's ``vendor.secret_field``), ``base_url``, and more accounts."""

    vendor: ClassVar[Vendor]
    base_url: str
    accounts: list[VendorAccount] = []

    @property
    def default_secret(self) -> str | None:
        return getattr(self, self.vendor.secret_field)

    @property
    def configured(self) -> bool:
        return bool(self.default_secret) or bool(self.accounts)

    def credentials(self) -> list[tuple[str, str, str]]:
        """(account, secret, base URL) of every configured account, ``default`` first."""
        secret, base_url = self.default_secret, self.base_url
        found = [(DEFAULT_ACCOUNT, secret, base_url)] if secret else []
        found += [(a.name, a.secret, a.base_url or base_url) for a in self.accounts if a.secret]
        return found

    @contextmanager
    def clients(self) -> Iterator[list[VendorClient]]:
        """One client per configured account, each paced by its key's rate limiter."""
        if not self.configured:
            raise RuntimeError(self.vendor.not_configured)
        vendor = self.vendor
        with _http_client() as http:
            yield [
                vendor.new_client(
                    http,
                    secret,
                    base_url=base_url,
                    account=name,
                    limiter=limiter_for(vendor.name, secret, vendor.rate_limit_per_minute),
                )
                for name, secret, base_url in self.credentials()
            ]


class NixflexResource(VendorResource):
    """Nixflex API access: ``NIXFLEX_API_KEY`` (``KEY_ID:KEY_SECRET``, account ``default``),
    ``NIXFLEX_BASE_URL``, and one more account per ``NIXFLEX_API_KEY_<ACCOUNT>``."""

    vendor: ClassVar[Vendor] = NIXFLEX
    api_key: str | None = None
    base_url: str = NIXFLEX.client.default_base_url


class SmsFactorResource(VendorResource):
    """SMSFactor API access: ``SMSFACTOR_API_TOKEN`` (account ``default``),
    ``SMSFACTOR_BASE_URL``, and one more account per ``SMSFACTOR_API_TOKEN_<ACCOUNT>``."""

    vendor: ClassVar[Vendor] = SMSFACTOR
    api_token: str | None = None
    base_url: str = SMSFACTOR.client.default_base_url


VENDOR_RESOURCES: tuple[type[VendorResource], ...] = (NixflexResource, SmsFactorResource)


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


def vendor_resource(resource: type[VendorResource]) -> VendorResource:
    """A vendor's resource wired from its environment variables (values resolved later)."""
    env = resource.vendor.env
    base_url = {"base_url": _env(env.base_url)} if _env(env.base_url) else {}
    return resource(
        **{resource.vendor.secret_field: _env(env.secret)},
        accounts=extra_accounts(env.secret, env.base_url),
        **base_url,
    )


class DetectionResource(dg.ConfigurableResource):
    """The detection thresholds (``DetectionSettings``; environment variables in
    docs/alerts.md)."""

    window_hours: int = DetectionSettings.window_hours
    baseline_days: int = DetectionSettings.baseline_days
    drop_percent: float = DetectionSettings.drop_percent
    min_messages: int = DetectionSettings.min_messages
    stuck_after_hours: float = DetectionSettings.stuck_after_hours

    def settings(self) -> DetectionSettings:
        return DetectionSettings(
            window_hours=self.window_hours,
            baseline_days=self.baseline_days,
            drop_percent=self.drop_percent,
            min_messages=self.min_messages,
            stuck_after_hours=self.stuck_after_hours,
        )


def detection_resource() -> DetectionResource:
    """The resource as the environment sets it (a bad value fails when definitions load)."""
    return DetectionResource(**asdict(DetectionSettings.from_env()))


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources wired from the environment (read when the definitions load, values later)."""
    return {
        "warehouse": WarehouseResource(
            url=_env("WAREHOUSE_URL"),
            raw_retention_months=dg.EnvVar.int("RAW_RETENTION_MONTHS")
            if os.environ.get("RAW_RETENTION_MONTHS")
            else None,
        ),
        **{resource.vendor.name: vendor_resource(resource) for resource in VENDOR_RESOURCES},
        "polling": PollingResource(),
        "privacy": PrivacyResource(phone_hash_salt=_env("PHONE_HASH_SALT")),
        "detection": detection_resource(),
    }
