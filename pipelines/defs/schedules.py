"""The jobs (full sync, forced refresh, replay from raw) and the 15-minute poll, on by
default."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from pipelines.defs.checks import all_checks
from pipelines.defs.raw_assets import RAW_ASSETS, PollConfig
from pipelines.defs.sms_assets import (
    CAMPAIGN_DELIVERY,
    LoadConfig,
    Replay,
    load_sms_tables,
    sms_table_keys,
)
from pipelines.defs.view_assets import VIEW_KEYS
from pipelines.polling.policy import SETTLE_WINDOW

SETTLE_HOURS = SETTLE_WINDOW / timedelta(hours=1)

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
    description=f"Delivery receipts keep arriving for up to ~{SETTLE_HOURS:.0f} h: poll every "
    "quarter hour.",
)

force_refresh = dg.define_asset_job(
    "force_refresh",
    selection=dg.AssetSelection.all(),
    description="Re-read every campaign of every account, settled or not (a full refresh). "
    "To refresh only some campaigns, launch full_sync with refresh_campaign_ids in the raw "
    "assets' config instead, or set sms.campaign_poll_state.refresh_requested_at.",
    config=dg.RunConfig(ops={asset.op.name: PollConfig(refresh_all=True) for asset in RAW_ASSETS}),
)

replay_from_raw = dg.define_asset_job(
    "replay_from_raw",
    selection=dg.AssetSelection.assets(*sms_table_keys(), CAMPAIGN_DELIVERY, *VIEW_KEYS.values()),
    description="Rebuild the sms tables from raw.vendor_response alone (no vendor is called), "
    "then run their checks. Config load_sms_tables.replay: 'all' (default: every fact) or "
    "'quarantined' (read again only what was quarantined or flagged, e.g. after a parser "
    "fix); provider: 'nixflex' or 'smsfactor' to replay one vendor.",
    config=dg.RunConfig(ops={load_sms_tables.op.name: LoadConfig(replay=Replay.all)}),
)

full_checks = dg.define_asset_job(
    "full_checks",
    selection=dg.AssetSelection.checks(*all_checks),
    description="Every data-quality check over every campaign (the checks after each sync look "
    "only at the campaigns that sync loaded). Fetches and loads nothing.",
)

check_everything_daily = dg.ScheduleDefinition(
    name="check_everything_daily",
    job=full_checks,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Once a day, every check over everything: what the per-sync checks, scoped to "
    "the campaigns each sync loaded, would never look at again.",
)
