"""The full sync job and its 15-minute poll, on by default."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.raw_assets import PollConfig

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

force_refresh = dg.define_asset_job(
    "force_refresh",
    selection=dg.AssetSelection.all(),
    description="Re-read every campaign of every account, settled or not (a full refresh). "
    "To refresh only some campaigns, launch full_sync with refresh_campaign_ids in the raw "
    "assets' config instead, or set sms.campaign_poll_state.refresh_requested_at.",
    config=dg.RunConfig(
        ops={
            "raw__nixflex_responses": PollConfig(refresh_all=True),
            "raw__smsfactor_responses": PollConfig(refresh_all=True),
        }
    ),
)
