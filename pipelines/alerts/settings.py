"""The alert settings, read from the environment (``docs/alerts.md`` lists them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

# The freshness check: a failure means the data went stale (signal ``stale``).
FRESHNESS_CHECK = "data_is_fresh"
# The jobs whose failed runs alert (the sync the schedule and ``make sync`` run).
SYNC_JOBS = ("full_sync",)
DEFAULT_UI_URL = "http://127.0.0.1:3000"
# The WARN checks that alert unless ALERT_WARN_CHECKS says otherwise: the detection checks.
DETECTION_CHECKS = ("delivery_rate_is_normal", "campaigns_are_not_stuck")


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, got {raw!r}")
    return value


def _warn_checks(value: str | None) -> frozenset[str]:
    named = _list(value)
    if not named:
        return frozenset(DETECTION_CHECKS)
    return frozenset() if named == ("none",) else frozenset(named)


@dataclass(frozen=True)
class AlertSettings:
    """``urls``: where alerts go (``ALERT_URLS``, comma-separated; none: alerts are off).
    ``ui_url``: the Dagster UI the messages link to (``DAGSTER_UI_URL``). ``remind_every``:
    a reminder while an incident lasts (``ALERT_REMIND_HOURS``, default 24). ``warn_checks``:
    the WARN checks whose failure alerts besides ``data_is_fresh`` (``ALERT_WARN_CHECKS``,
    default the detection checks ``DETECTION_CHECKS``; ``none`` for none).
    ``alert_on_stale``: ``data_is_fresh`` alerts (``ALERT_ON_STALE``, default yes).
    ``timeout_seconds`` / ``attempts``: per destination and message
    (``ALERT_TIMEOUT_SECONDS``, default 10; ``ALERT_ATTEMPTS``, default 3)."""

    urls: tuple[str, ...] = ()
    ui_url: str = DEFAULT_UI_URL
    remind_every: timedelta = timedelta(hours=24)
    warn_checks: frozenset[str] = frozenset(DETECTION_CHECKS)
    alert_on_stale: bool = True
    timeout_seconds: float = 10.0
    attempts: int = 3
    sync_jobs: tuple[str, ...] = SYNC_JOBS

    @property
    def configured(self) -> bool:
        return bool(self.urls)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        return cls(
            urls=_list(env.get("ALERT_URLS")),
            ui_url=(env.get("DAGSTER_UI_URL") or DEFAULT_UI_URL).rstrip("/"),
            remind_every=timedelta(hours=_number(env, "ALERT_REMIND_HOURS", 24.0)),
            warn_checks=_warn_checks(env.get("ALERT_WARN_CHECKS")),
            alert_on_stale=env.get("ALERT_ON_STALE", "yes").strip().lower()
            not in ("no", "false", "0", "off"),
            timeout_seconds=_number(env, "ALERT_TIMEOUT_SECONDS", 10.0),
            attempts=int(_number(env, "ALERT_ATTEMPTS", 3)),
        )

    def alerting_warn_checks(self) -> frozenset[str]:
        """The WARN checks whose failure is a signal: the listed ones, and freshness."""
        return self.warn_checks | ({FRESHNESS_CHECK} if self.alert_on_stale else set())
