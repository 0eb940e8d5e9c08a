"""The Dagster code location: wiring only."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.alerts import send_alerts
from pipelines.defs.checks import all_checks
from pipelines.defs.raw_assets import nixflex_responses, smsfactor_responses
from pipelines.defs.resources import build_resources
from pipelines.defs.schedules import (
    check_everything_daily,
    force_refresh,
    full_checks,
    full_sync,
    poll_every_15_minutes,
    replay_from_raw,
)
from pipelines.defs.sms_assets import campaign_delivery, load_sms_tables
from pipelines.defs.view_assets import analyst_views


def build_definitions() -> dg.Definitions:
    """Everything Dagster loads; resources are wired from the environment at call time."""
    return dg.Definitions(
        assets=[
            nixflex_responses,
            smsfactor_responses,
            load_sms_tables,
            campaign_delivery,
            analyst_views,
        ],
        asset_checks=all_checks,
        jobs=[full_sync, force_refresh, replay_from_raw, full_checks],
        schedules=[poll_every_15_minutes, check_everything_daily],
        sensors=[send_alerts],
        resources=build_resources(),
    )


defs = build_definitions()
