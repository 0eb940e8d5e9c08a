"""The sensor ``send_alerts``: every minute, one alert evaluation (``pipelines.alerts``).

It launches no run: its status in the UI (the skip reason of each tick) says what it did,
which destinations failed, or that alerts are not configured. Settings are read from the
environment at each tick (``docs/alerts.md``).
"""

from __future__ import annotations

import dagster as dg

from pipelines.alerts.evaluate import evaluate
from pipelines.alerts.settings import AlertSettings
from pipelines.defs.resources import WarehouseResource


@dg.sensor(
    name="send_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends one alert per incident (a failed ERROR check, stale data, a failed "
    "sync run, listed WARN checks) to ALERT_URLS, a daily reminder while it lasts, and one "
    "'resolved' when it clears. With no ALERT_URLS it sends nothing.",
)
def send_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    settings = AlertSettings.from_env()
    if not settings.configured:
        return dg.SkipReason("alerts are not configured: ALERT_URLS is not set")
    check_keys = context.repository_def.asset_graph.asset_check_keys
    report = evaluate(warehouse.engine(), context.instance, check_keys, settings)
    for failure in report.failures():
        context.log.warning(f"alert destination failed: {failure}")
    return dg.SkipReason(report.summary())
