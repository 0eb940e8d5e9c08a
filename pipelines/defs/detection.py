"""The detection checks on ``sms/campaign_delivery``: ``delivery_rate_is_normal`` (a
sender's delivery rate fell against the same hours of past days) and
``campaigns_are_not_stuck`` (messages still pending a day after sending). Both WARN, both
name each offending segment (``provider/account/sender``) in the ``segments`` metadata,
which the alerts turn into one incident per segment. The rules are
``pipelines.warehouse.detection``; "now" is the pipeline's clock.
"""

from __future__ import annotations

from dataclasses import asdict

import dagster as dg

from pipelines import clock
from pipelines.defs.resources import DetectionResource, WarehouseResource
from pipelines.defs.sms_assets import CAMPAIGN_DELIVERY
from pipelines.warehouse.detection import (
    Finding,
    delivery_drops,
    judged_segments,
    stuck_campaigns,
)

WARN = dg.AssetCheckSeverity.WARN
EXAMPLES = 20


def _table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows[:EXAMPLES]]
    return "\n".join(lines)


def _result(
    finding: Finding,
    description: str,
    metadata: dict[str, object],
    columns: tuple[str, ...],
) -> dg.AssetCheckResult:
    if finding.passed:
        return dg.AssetCheckResult(
            passed=True, severity=WARN, description=description, metadata=metadata
        )
    metadata |= {
        "segments": dg.MetadataValue.json(finding.segments),
        "examples": dg.MetadataValue.md(_table(finding.offending, columns)),
    }
    named = ", ".join(list(finding.segments)[:10])
    return dg.AssetCheckResult(
        passed=False,
        severity=WARN,
        description=f"{len(finding.segments)} segment(s): {named}",
        metadata=metadata,
    )


@dg.asset_check(
    asset=CAMPAIGN_DELIVERY,
    name="delivery_rate_is_normal",
    description="Per vendor, account and sender: the delivery rate of the messages whose "
    "outcome became known in the last hours (DELIVERY_WINDOW_HOURS, 6) is not more than "
    "DELIVERY_DROP_PERCENT (25 %, relative) below the same hours of the previous "
    "DELIVERY_BASELINE_DAYS (7) days, once both hold DELIVERY_MIN_MESSAGES (100) outcomes.",
)
def delivery_rate_is_normal(
    warehouse: WarehouseResource, detection: DetectionResource
) -> dg.AssetCheckResult:
    settings, as_of = detection.settings(), clock.utcnow()
    finding = delivery_drops(warehouse.engine(), as_of, settings)
    metadata: dict[str, object] = {
        "sql_file": "sql/detection/delivery_rate_by_segment.sql",
        "as_of": as_of.isoformat(),
        "segments_checked": len(finding.rows),
        # Only these can clear an incident: too few messages to judge is not a recovery.
        "segments_judged": dg.MetadataValue.json(judged_segments(finding, settings)),
        **{f"setting_{k}": v for k, v in asdict(settings).items() if k != "stuck_after_hours"},
    }
    return _result(
        finding,
        f"{len(finding.rows)} segment(s) with outcomes in the last {settings.window_hours} h; "
        "none dropped",
        metadata,
        ("segment", "messages", "delivery_rate", "baseline_messages", "baseline_rate",
         "drop_percent"),
    )  # fmt: skip


@dg.asset_check(
    asset=CAMPAIGN_DELIVERY,
    name="campaigns_are_not_stuck",
    description="No campaign still has messages pending STUCK_AFTER_HOURS (24) after it "
    "started sending; stuck ones are named, by vendor, account and sender.",
)
def campaigns_are_not_stuck(
    warehouse: WarehouseResource, detection: DetectionResource
) -> dg.AssetCheckResult:
    settings, as_of = detection.settings(), clock.utcnow()
    finding = stuck_campaigns(warehouse.engine(), as_of, settings)
    metadata: dict[str, object] = {
        "sql_file": "sql/detection/stuck_campaigns.sql",
        "as_of": as_of.isoformat(),
        "offending_rows": len(finding.rows),
        "setting_stuck_after_hours": settings.stuck_after_hours,
    }
    if finding.rows:
        metadata["offending_campaigns"] = ", ".join(
            f"{r['provider']}:{r['campaign_id']}" for r in finding.rows
        )
    return _result(
        finding,
        f"no campaign pending {settings.stuck_after_hours:g} h after sending",
        metadata,
        ("provider", "campaign_id", "segment", "status", "pending_messages", "hours_pending"),
    )


detection_checks = [delivery_rate_is_normal, campaigns_are_not_stuck]
