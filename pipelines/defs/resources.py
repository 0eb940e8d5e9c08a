"""Dagster resources: the warehouse and one client factory per vendor.

Secrets arrive only through ``dg.EnvVar`` (Dagster shows the variable's name, never its
value). A vendor whose credential is unset is not polled, and the assets say so plainly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import httpx
from sqlalchemy import Engine

from pipelines.vendors import nixflex_client, smsfactor_client
from pipelines.vendors.transport import DEFAULT_TIMEOUT
from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.migrate import ensure_migrated


class WarehouseResource(dg.ConfigurableResource):
    """The Postgres warehouse. ``url`` unset means the embedded server under ``.data/``."""

    url: str | None = None

    def engine(self) -> Engine:
        """A pooled engine on an up-to-date schema (migrations applied on first use)."""
        engine = get_engine(self.url)
        ensure_migrated(engine)
        return engine


def _http_client() -> httpx.Client:
    # TLS verification stays on (httpx default); every request has a timeout.
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": "sms-delivery-warehouse/0.1"},
    )


class NixflexResource(dg.ConfigurableResource):
    """Nixflex API access: ``NIXFLEX_API_KEY`` (``KEY_ID:KEY_SECRET``) and ``NIXFLEX_BASE_URL``."""

    api_key: str | None = None
    base_url: str = nixflex_client.DEFAULT_BASE_URL

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    @contextmanager
    def client(self) -> Iterator[nixflex_client.NixflexClient]:
        if not self.api_key:
            raise RuntimeError("NIXFLEX_API_KEY is not set: Nixflex is not polled")
        with _http_client() as http:
            yield nixflex_client.NixflexClient(http, api_key=self.api_key, base_url=self.base_url)


class SmsFactorResource(dg.ConfigurableResource):
    """SMSFactor API access: ``SMSFACTOR_API_TOKEN`` and ``SMSFACTOR_BASE_URL``."""

    api_token: str | None = None
    base_url: str = smsfactor_client.DEFAULT_BASE_URL

    @property
    def configured(self) -> bool:
        return bool(self.api_token)

    @contextmanager
    def client(self) -> Iterator[smsfactor_client.SmsFactorClient]:
        if not self.api_token:
            raise RuntimeError("SMSFACTOR_API_TOKEN is not set: SMSFactor is not polled")
        with _http_client() as http:
            yield smsfactor_client.SmsFactorClient(
                http, api_token=self.api_token, base_url=self.base_url
            )


def _env(name: str) -> dg.EnvVar | None:
    """``EnvVar(name)`` when the variable is set, else None (Dagster would refuse to start)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources wired from the environment (read when the definitions load, values later)."""
    nixflex_kwargs = {"base_url": _env("NIXFLEX_BASE_URL")} if _env("NIXFLEX_BASE_URL") else {}
    smsfactor_kwargs = (
        {"base_url": _env("SMSFACTOR_BASE_URL")} if _env("SMSFACTOR_BASE_URL") else {}
    )
    return {
        "warehouse": WarehouseResource(url=_env("WAREHOUSE_URL")),
        "nixflex": NixflexResource(api_key=_env("NIXFLEX_API_KEY"), **nixflex_kwargs),
        "smsfactor": SmsFactorResource(api_token=_env("SMSFACTOR_API_TOKEN"), **smsfactor_kwargs),
    }
