"""Month partitions of ``raw.vendor_response`` and ``sms.recipient_status_transition``,
made ahead of time (migrations 0026 to 0028)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from pipelines.warehouse import sqlfiles


def ensure_partitions(engine: Engine) -> int:
    """Make this month's and the next two months' partitions where missing (moving any rows
    the default partition holds for them); how many were made."""
    with engine.begin() as conn:
        return int(
            conn.execute(text(sqlfiles.read("maintenance/ensure_partitions.sql"))).scalar_one()
        )
