"""The detection checks on ``sms/campaign_delivery``, one step: ``delivery_rate_is_normal`` (a
sender's delivery rate fell against the same hours of past days) and
``campaigns_are_not_stuck`` (messages still pending a day after sending). Both WARN, both
name each offending segment (``provider/account/sender``) in the ``segments`` metadata,
which the alerts turn into one incident per segment. The rules are
``pipelines.warehouse.detection``; "now" is the pipeline's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime

import dagster as dg

from pipelines import clock
from pipelines.defs.resources import DetectionResource, WarehouseResource
from pipelines.defs.sms_assets import CAMPAIGN_DELIVERY
from pipelines.warehouse.detection import (
    DetectionSettings,
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
    spec: dg.AssetCheckSpec,
    finding: Finding,
    description: str,
    metadata: dict[str, object],
    columns: tuple[str, ...],
) -> dg.AssetCheckResult:
    named = {"asset_key": spec.asset_key, "check_name": spec.name, "severity": WARN}
    if finding.passed:
        return dg.AssetCheckResult(passed=True, description=description, metadata=metadata, **named)
    metadata |= {
        "segments": dg.MetadataValue.json(finding.segments),
        "examples": dg.MetadataValue.md(_table(finding.offending, columns)),
    }
    listed = ", ".join(list(finding.segments)[:10])
    return dg.AssetCheckResult(
        passed=False,
        description=f"{len(finding.segments)} segment(s): {listed}",
        metadata=metadata,
        **named,
    )


DELIVERY_RATE = dg.AssetCheckSpec(
    "delivery_rate_is_normal",
    asset=CAMPAIGN_DELIVERY,
    description="Per vendor, account and sender: the delivery rate of the messages whose "
    "outcome became known in the last hours (DELIVERY_WINDOW_HOURS, 6) is not more than "
    "DELIVERY_DROP_PERCENT (25 %, relative) below the same hours of the previous "
    "DELIVERY_BASELINE_DAYS (7) days, once both hold DELIVERY_MIN_MESSAGES (100) outcomes.",
)
NOT_STUCK = dg.AssetCheckSpec(
    "campaigns_are_not_stuck",
    asset=CAMPAIGN_DELIVERY,
    description="No campaign still has messages pending STUCK_AFTER_HOURS (24) after it "
    "started sending; stuck ones are named, by vendor, account and sender.",
)


@dg.multi_asset_check(specs=[DELIVERY_RATE, NOT_STUCK], name="detection_checks")
def detection(
    warehouse: WarehouseResource, detection: DetectionResource
) -> Iterator[dg.AssetCheckResult]:
    """Both in one step (one process under the multiprocess executor), at the same "now"."""
    settings, as_of, engine = detection.settings(), clock.utcnow(), warehouse.engine()
    yield delivery_rate_result(delivery_drops(engine, as_of, settings), settings, as_of)
    yield stuck_result(stuck_campaigns(engine, as_of, settings), settings, as_of)


def delivery_rate_result(
    finding: Finding, settings: DetectionSettings, as_of: datetime
) -> dg.AssetCheckResult:
    metadata: dict[str, object] = {
        "sql_file": "sql/detection/delivery_rate_by_segment.sql",
        "as_of": as_of.isoformat(),
        "segments_checked": len(finding.rows),
        # Only these can clear an incident: too few messages to judge is not a recovery.
        "segments_judged": dg.MetadataValue.json(judged_segments(finding, settings)),
        **{f"setting_{k}": v for k, v in asdict(settings).items() if k != "stuck_after_hours"},
    }
    return _result(
        DELIVERY_RATE,
        finding,
        f"{len(finding.rows)} segment(s) with outcomes in the last {settings.window_hours} h; "
        "none dropped",
        metadata,
        ("segment", "messages", "delivery_rate", "baseline_messages", "baseline_rate",
         "drop_percent"),
    )  # fmt: skip


def stuck_result(
    finding: Finding, settings: DetectionSettings, as_of: datetime
) -> dg.AssetCheckResult:
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
        NOT_STUCK,
        finding,
        f"no campaign pending {settings.stuck_after_hours:g} h after sending",
        metadata,
        ("provider", "campaign_id", "segment", "status", "pending_messages", "hours_pending"),
    )


detection_checks = [detection]
