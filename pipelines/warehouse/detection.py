"""Delivery-drop and stuck-campaign detection: the rules behind the WARN checks
``delivery_rate_is_normal`` and ``campaigns_are_not_stuck`` (plain Python over
``sql/detection/*.sql``; docs/alerts.md states them).

Both read what the loader keeps per campaign (``sms.campaign_outcome_hour``,
``sms.campaign_outcome``), so their cost follows the traffic of the hours compared and the
campaigns still in flight, not the warehouse's size. Each finding names its segment
(``provider/account/sender``), which the alerts turn into one incident per segment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from pipelines.warehouse import sqlfiles


@dataclass(frozen=True)
class DetectionSettings:
    """The thresholds, each from its environment variable (docs/alerts.md).

    ``window_hours`` (``DELIVERY_WINDOW_HOURS``, 6): the UTC hours compared, the current one
    included. ``baseline_days`` (``DELIVERY_BASELINE_DAYS``, 7): the same hours of that many
    days before are the baseline. ``drop_percent`` (``DELIVERY_DROP_PERCENT``, 25): a rate
    this many percent (relative) below its baseline is a drop. ``min_messages``
    (``DELIVERY_MIN_MESSAGES``, 100): outcomes needed in the window and in the baseline.
    ``stuck_after_hours`` (``STUCK_AFTER_HOURS``, 24): pending this long after sending is
    stuck."""

    window_hours: int = 6
    baseline_days: int = 7
    drop_percent: float = 25.0
    min_messages: int = 100
    stuck_after_hours: float = 24.0

    def __post_init__(self) -> None:
        if not 1 <= self.window_hours <= 24:
            raise ValueError(f"DELIVERY_WINDOW_HOURS must be 1 to 24, got {self.window_hours}")
        if self.baseline_days < 1:
            raise ValueError(f"DELIVERY_BASELINE_DAYS must be 1 or more, got {self.baseline_days}")
        if not 0 < self.drop_percent < 100:
            raise ValueError(f"DELIVERY_DROP_PERCENT must be in (0, 100), got {self.drop_percent}")
        if self.min_messages < 1:
            raise ValueError(f"DELIVERY_MIN_MESSAGES must be 1 or more, got {self.min_messages}")
        if self.stuck_after_hours <= 0:
            raise ValueError(f"STUCK_AFTER_HOURS must be positive, got {self.stuck_after_hours}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DetectionSettings:
        env = os.environ if env is None else env
        given: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(ENV_NAMES[field.name], "").strip()
            if raw:
                kind = type(field.default)  # int or float, as the default is
                try:
                    given[field.name] = kind(raw)
                except ValueError:
                    said = "a whole number" if kind is int else "a number"
                    raise ValueError(
                        f"{ENV_NAMES[field.name]} must be {said}, got {raw!r}"
                    ) from None
        return cls(**given)


ENV_NAMES = {
    "window_hours": "DELIVERY_WINDOW_HOURS",
    "baseline_days": "DELIVERY_BASELINE_DAYS",
    "drop_percent": "DELIVERY_DROP_PERCENT",
    "min_messages": "DELIVERY_MIN_MESSAGES",
    "stuck_after_hours": "STUCK_AFTER_HOURS",
}


@dataclass(frozen=True)
class Finding:
    """What one detection rule found: every row it looked at, and the offending ones by
    segment with their figures."""

    rows: list[dict[str, Any]]
    offending: list[dict[str, Any]]
    segments: dict[str, dict[str, object]]

    @property
    def passed(self) -> bool:
        return not self.offending


def _plain(value: object) -> object:
    """A SQL value as JSON: Decimal → float, times as ISO text in UTC."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _rows(engine: Engine, name: str, params: Mapping[str, object]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        conn.execute(text("set transaction read only"))
        found = conn.execute(text(sqlfiles.read(f"detection/{name}.sql")), dict(params))
        rows = [{k: _plain(v) for k, v in r.items()} for r in found.mappings().all()]
        conn.rollback()
    return rows


def delivery_drops(engine: Engine, as_of: datetime, settings: DetectionSettings) -> Finding:
    """Every segment with outcomes in the window, and those whose rate dropped."""
    rows = _rows(
        engine,
        "delivery_rate_by_segment",
        {
            "as_of": as_of,
            "window_hours": settings.window_hours,
            "baseline_days": settings.baseline_days,
            "min_messages": settings.min_messages,
            "drop_percent": settings.drop_percent,
        },
    )
    offending = [r for r in rows if r["flagged"]]
    segments = {
        r["segment"]: {
            "said": drop_said(r, settings),
            "messages": r["messages"],
            "delivery_rate": r["delivery_rate"],
            "baseline_messages": r["baseline_messages"],
            "baseline_rate": r["baseline_rate"],
            "drop_percent": r["drop_percent"],
            "grown_categories": grown_text(r["grown_categories"]),
        }
        for r in offending
    }
    return Finding(rows, offending, segments)


def drop_said(row: Mapping[str, Any], settings: DetectionSettings) -> str:
    """One flagged segment in a sentence its sender can act on."""
    return (
        f"delivered {100 * row['delivery_rate']:.1f} % of {row['messages']:,} messages in the "
        f"last {settings.window_hours} h, against {100 * row['baseline_rate']:.1f} % of "
        f"{row['baseline_messages']:,} in the same hours of the previous "
        f"{settings.baseline_days} days ({row['drop_percent']:.1f} % lower); failures that "
        f"grew: {grown_text(row['grown_categories'])}"
    )


def judged_segments(finding: Finding, settings: DetectionSettings) -> list[str]:
    """The segments with enough outcomes, in the window and in the baseline, to be judged."""
    return [
        r["segment"]
        for r in finding.rows
        if r["messages"] >= settings.min_messages
        and r["baseline_messages"] >= settings.min_messages
    ]


def grown_text(grown: Mapping[str, Mapping[str, float]] | None) -> str:
    """``{"blocked_or_filtered": {"percent_now": 31.2, "percent_baseline": 0.4}}`` →
    ``blocked_or_filtered 0.4% → 31.2%`` (largest growth first, as the SQL orders them)."""
    if not grown:
        return "none"
    return ", ".join(
        f"{name} {shares['percent_baseline']}% → {shares['percent_now']}%"
        for name, shares in grown.items()
    )


def stuck_campaigns(engine: Engine, as_of: datetime, settings: DetectionSettings) -> Finding:
    """Campaigns with messages pending ``stuck_after_hours`` after sending, by segment."""
    rows = _rows(
        engine,
        "stuck_campaigns",
        {"as_of": as_of, "stuck_after_hours": settings.stuck_after_hours},
    )
    by_segment: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_segment.setdefault(row["segment"], []).append(row)
    segments: dict[str, dict[str, object]] = {
        name: {
            "said": f"{len(stuck)} campaign(s) with "
            f"{sum(r['pending_messages'] for r in stuck):,} messages still pending, the "
            f"longest {max(r['hours_pending'] for r in stuck):g} h after it started sending",
            "campaigns": [f"{r['provider']}:{r['campaign_id']}" for r in stuck],
            "pending_messages": sum(r["pending_messages"] for r in stuck),
            "longest_hours": max(r["hours_pending"] for r in stuck),
        }
        for name, stuck in by_segment.items()
    }
    return Finding(rows, rows, segments)
