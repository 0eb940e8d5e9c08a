"""The short summary ``make demo`` ends with: what is in the warehouse and where to look next."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

from pipelines.warehouse.engine import get_engine, libpq_url

if TYPE_CHECKING:
    from pipelines.cli import SyncOutcome

_PER_VENDOR = text("""
select c.provider,
       count(*)                                         as campaigns,
       sum(c.total)                                     as messages,
       sum(c.delivered)                                 as delivered,
       sum(c.failed)                                    as failed,
       sum(c.pending)                                   as pending,
       (select count(*) from sms.fact_recipient_delivery) as recipient_rows
from sms.campaign_delivery c
group by c.provider
order by c.provider
""")


def print_summary(outcome: SyncOutcome) -> None:
    """Campaigns and recipients per vendor, check results, and how to go on."""
    from pipelines.cli import print_checks

    engine = get_engine(None)
    with engine.connect() as conn:
        rows = conn.execute(_PER_VENDOR).all()
    print("\nWarehouse after the demo's syncs")
    print(
        f"  {'vendor':10} {'campaigns':>9} {'messages':>9} {'delivered':>9} {'failed':>7} "
        f"{'pending':>7} {'recipient rows':>14}"
    )
    for r in rows:
        recipients = r.recipient_rows if r.provider == "nixflex" else "counters only"
        print(
            f"  {r.provider:10} {r.campaigns:>9} {r.messages:>9} {r.delivered:>9} "
            f"{r.failed:>7} {r.pending:>7} {recipients:>14}"
        )
    print_checks(outcome)
    print("\nNext")
    print("  make dev-demo   the Dagster UI on http://127.0.0.1:3000, polling the simulator")
    print("  make dev        the UI with your own .env (copy .env.example, add real keys)")
    print('  make bi         the dashboard "SMS delivery" (Apache Superset) on this warehouse')
    print("  make psql       a psql session on this warehouse; try:")
    print("                  select * from sms.campaign_delivery order by created_at desc;")
    print(f"  connect with    psql '{libpq_url(engine.url)}'")


def print_alerts(outcome: SyncOutcome) -> None:
    """The alerts the last sync's checks raise: sent by the sensor ``send_alerts`` when
    ``ALERT_URLS`` is set (docs/alerts.md); the demo only shows them."""
    from pipelines import clock
    from pipelines.alerts.evaluate import secrets_of
    from pipelines.alerts.preview import would_send
    from pipelines.alerts.settings import AlertSettings

    settings = AlertSettings.from_env()
    messages = would_send(
        outcome.evaluations, outcome.run_id, clock.utcnow(), settings, secrets_of(settings)
    )
    print(f"\nAlerts this sync would send ({len(messages)}; docs/alerts.md says where to)")
    for message in messages:
        print(f"  {message.title}")
        print("\n".join(f"    {line}" for line in message.body.splitlines()))
