"""``python -m pipelines.alerts``: one alert evaluation now, sending what is due (for cron,
``make alerts``); ``--test``: a test message to each destination, saying which answered.

Reads the checks and runs of the Dagster instance in ``DAGSTER_HOME`` and the incidents in
the warehouse (``WAREHOUSE_URL``), like the sensor ``send_alerts``. Exit status: 0 when
every message went where it should (or alerts are not configured), 1 when a destination
failed, 2 when the evaluation could not run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipelines.alerts.settings import AlertSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _test(settings: AlertSettings) -> int:
    from pipelines.alerts.evaluate import send_test

    outcomes = send_test(settings)
    for outcome in outcomes:
        print(f"{'OK  ' if outcome.ok else 'FAIL'}  {outcome.destination}  {outcome.detail}")
    return 0 if all(o.ok for o in outcomes) else 1


def _evaluate(settings: AlertSettings) -> int:
    import dagster as dg

    from pipelines.alerts.evaluate import evaluate
    from pipelines.definitions import defs
    from pipelines.warehouse.engine import reachable_engine
    from pipelines.warehouse.migrate import ensure_migrated

    if not os.environ.get("DAGSTER_HOME"):
        print("DAGSTER_HOME is not set: alerts read the checks and runs of that instance")
        return 2
    engine = reachable_engine(os.environ.get("WAREHOUSE_URL") or None)
    ensure_migrated(engine)
    check_keys = defs.resolve_asset_graph().asset_check_keys
    with dg.DagsterInstance.get() as instance:
        report = evaluate(engine, instance, check_keys, settings)
    print(report.summary())
    return 1 if report.failures() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.alerts", description=__doc__)
    parser.add_argument("--test", action="store_true", help="send a test message to each")
    args = parser.parse_args(argv)
    from dotenv import load_dotenv

    load_dotenv(PROJECT_ROOT / ".env", override=False)
    settings = AlertSettings.from_env()
    if not settings.configured:
        print("alerts are not configured: ALERT_URLS is not set (docs/alerts.md)")
        return 0
    return _test(settings) if args.test else _evaluate(settings)


if __name__ == "__main__":
    sys.exit(main())
