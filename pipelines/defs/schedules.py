"""The full sync job and its 15-minute poll, on by default."""

from __future__ import annotations

import dagster as dg

full_sync = dg.define_asset_job(
    "full_sync",
    selection=dg.AssetSelection.all(),
    description="Poll both vendors, land every answer, load the sms tables, run every check.",
)

poll_every_15_minutes = dg.ScheduleDefinition(
    name="poll_vendors_every_15_minutes",
    job=full_sync,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Delivery receipts keep arriving for up to ~72 h: poll every quarter hour.",
)
