"""Keeping secrets and phone numbers out of alerts and their logs.

Secrets: the values of environment variables whose names say they are one (``*_KEY``,
``*_TOKEN``, ``*SECRET*``, ``*PASSWORD*``, ``*_SALT``, ``*_API_KEY_<ACCOUNT>``), the
password of ``WAREHOUSE_URL``, and the secret parts of each alert destination's URL (its
password, path and query values). Phone numbers: anything shaped like E.164 (``+`` and 8 to
15 digits).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "[redacted]"
PHONE = re.compile(r"\+\d{8,15}\b")
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|SALT|ALERT_URLS)", re.I)
_MIN_SECRET = 6  # shorter pieces would mangle ordinary text


def _token_like(segment: str) -> bool:
    """A path segment that may be a token: with a digit, or long (``services``,
    ``webhooks`` and the like are left readable)."""
    return any(c.isdigit() for c in segment) or len(segment) >= 16


def url_secrets(url: str) -> set[str]:
    """The parts of ``url`` that may be credentials: password, token-like path segments,
    query values; for a service scheme (``slack://T/B/X``) the host too."""
    parts = urlsplit(url.strip())
    found = {parts.password or "", unquote(parts.password or "")}
    found |= {unquote(seg) for seg in parts.path.split("/") if _token_like(unquote(seg))}
    found |= {value for _, value in parse_qsl(parts.query)}
    if parts.scheme not in ("http", "https", "mailto", "mailtos"):
        found.add(parts.hostname or "")
    return {s for s in found if len(s) >= _MIN_SECRET}


def environment_secrets(env: Mapping[str, str] | None = None) -> set[str]:
    """Secret values the environment holds (see the module's docstring)."""
    env = os.environ if env is None else env
    found: set[str] = set()
    for name, value in env.items():
        if _SECRET_NAME.search(name) and value:
            found |= {value} | {p for u in value.split(",") for p in url_secrets(u)}
    if env.get("WAREHOUSE_URL"):
        found.add(urlsplit(env["WAREHOUSE_URL"]).password or "")
    return {s for s in found if len(s) >= _MIN_SECRET}


def scrub(value: str, secrets: Iterable[str]) -> str:
    """``value`` with every secret and phone number replaced by ``[redacted]``."""
    for secret in sorted(secrets, key=len, reverse=True):
        value = value.replace(secret, REDACTED)
    return PHONE.sub(REDACTED, value)


class SecretsFilter(logging.Filter):
    """Rewrites log records so no secret of ``secrets`` reaches a handler."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = set(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
