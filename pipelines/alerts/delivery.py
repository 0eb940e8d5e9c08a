"""Sending one message to every destination of ``ALERT_URLS``.

A destination is an Apprise URL (``slack://…``, ``msteams://…``, ``mailto://…``,
``json://…``/``jsons://…``, a service's own webhook address such as Slack's, and the other
services Apprise knows), or any other plain ``http://`` / ``https://`` URL: a generic
webhook, to which the alert is POSTed as a JSON object with httpx (Apprise's own JSON body
carries only a title and a message; a webhook gets the incident's fields: event, campaigns,
figures, links, and ``text`` for chat webhooks that read that).

Destinations are sent to side by side; each is tried at most ``attempts`` times, each try
bounded by ``timeout_seconds``. A destination that fails is logged with its URL masked and
reported; it never stops the others or raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
import httpx
from apprise.manager_plugins import NotificationManager
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from pipelines.alerts.messages import Message
from pipelines.alerts.redact import SecretsFilter
from pipelines.alerts.settings import AlertSettings

log = logging.getLogger(__name__)
# Loggers that may print a destination's URL: they get the secrets filter while sending.
_URL_LOGGERS = ("apprise", "httpx", __name__)


class DeliveryFailed(Exception):
    def __init__(self, detail: str, retry: bool = True) -> None:
        super().__init__(detail)
        self.retry = retry


@dataclass(frozen=True)
class Destination:
    url: str
    shown: str  # the URL with its secrets masked, for logs and reports
    webhook: bool  # a generic JSON webhook (else Apprise sends)


def is_webhook(url: str) -> bool:
    """A plain http(s) URL that no Apprise service claims as its own (Slack's, Discord's and
    Teams' workflow webhook addresses go to Apprise, which formats for them)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return False
    return not any(plugin.parse_native_url(url) for plugin in NotificationManager().plugins())


@dataclass(frozen=True)
class Outcome:
    destination: str  # masked
    ok: bool
    detail: str


def masked(url: str) -> str:
    """``url`` safe to print: a webhook as scheme://host[:port]/… (its path and query may
    hold a token); any other through Apprise's privacy rendering."""
    parts = urlsplit(url)
    if is_webhook(url):
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}/…"
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    return plugin.url(privacy=True) if plugin else f"{parts.scheme}://… (not understood)"


def destinations(settings: AlertSettings) -> list[Destination]:
    """The destinations of ``ALERT_URLS`` (call under ``guarded_logs``: Apprise logs a URL
    it cannot read)."""
    return [Destination(url, masked(url), is_webhook(url)) for url in settings.urls]


def _post_json(destination: Destination, message: Message, timeout: float) -> None:
    try:
        answer = httpx.post(
            destination.url, json=message.payload, timeout=timeout, follow_redirects=False
        )
    except httpx.TimeoutException as error:
        raise DeliveryFailed(f"no answer within {timeout:g} s") from error
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{type(error).__name__}") from error
    if answer.status_code >= 300:
        retry = answer.status_code >= 500 or answer.status_code == 429
        raise DeliveryFailed(f"HTTP {answer.status_code}", retry=retry)


def _apprise(destination: Destination, message: Message, timeout: float) -> None:
    plugin = apprise.Apprise.instantiate(destination.url, suppress_exceptions=True)
    if plugin is None:
        raise DeliveryFailed("not a URL Apprise understands", retry=False)
    plugin.socket_read_timeout = plugin.socket_connect_timeout = timeout
    kind = apprise.NotifyType.FAILURE if message.failure else apprise.NotifyType.SUCCESS
    if message.kind == "test":
        kind = apprise.NotifyType.INFO
    if not plugin.notify(body=message.body, title=message.title, notify_type=kind):
        raise DeliveryFailed("refused or unreachable (Apprise's log says why)")


def _send_one(destination: Destination, message: Message, settings: AlertSettings) -> Outcome:
    send = _post_json if destination.webhook else _apprise
    retrying = Retrying(
        stop=stop_after_attempt(settings.attempts),
        wait=wait_exponential(multiplier=0.5, max=4),
        retry=retry_if_exception(lambda e: isinstance(e, DeliveryFailed) and e.retry),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                send(destination, message, settings.timeout_seconds)
    except DeliveryFailed as error:
        tries = retrying.statistics.get("attempt_number", 1)
        detail = f"{error} ({tries} attempt{'s' if tries > 1 else ''})"
        log.warning("alert to %s failed: %s", destination.shown, detail)
        return Outcome(destination.shown, False, detail)
    return Outcome(destination.shown, True, "accepted")


@contextmanager
def guarded_logs(secrets: Iterable[str]) -> Iterator[None]:
    """While the block runs, the loggers that may print a destination's URL (Apprise's,
    httpx's, this module's) have every secret replaced by ``[redacted]``."""
    guard = SecretsFilter(secrets)
    loggers = [logging.getLogger(name) for name in _URL_LOGGERS]
    for logger in loggers:
        logger.addFilter(guard)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(guard)


def send(targets: list[Destination], message: Message, settings: AlertSettings) -> list[Outcome]:
    """Sends ``message`` to every destination at once; one outcome per destination (call
    under ``guarded_logs``)."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        return list(pool.map(lambda d: _send_one(d, message, settings), targets))
