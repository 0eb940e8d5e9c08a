"""Warehouse set-up as a user meets it: migrations once each, the embedded server reused."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines.warehouse import engine as warehouse_engine
from pipelines.warehouse.migrate import MIGRATIONS_DIR, discover, discover_views, migrate
from tests.sync_helpers import rows, scalar

CONTRACT = {
    "dim_campaign": "provider, campaign_id, name, sender, message_text, status, created_at, "
    "scheduled_at, sent_at, cost, reported_total, reported_delivered, "
    "reported_failed, reported_pending, first_seen_at, last_polled_at",
    "fact_recipient_delivery": "provider, campaign_id, phone, status, delivery_bucket, "
    "twilio_sid, error_message, rendered_message, variables, sent_at, "
    "first_seen_at, status_changed_at",
    "fact_recipient_status_change": "provider, campaign_id, phone, from_status, to_status, "
    "observed_at",
    "fact_campaign_counters": "provider, campaign_id, observed_at, status, total, delivered, "
    "error, expired, network_error, stop, npai, delivery_rate, cost",
    "campaign_delivery": "provider, campaign_id, name, status, created_at, total, delivered, "
    "failed, pending, unknown, delivery_rate, as_of",
}


def test_every_contract_relation_has_its_columns(engine: Engine) -> None:
    for relation, expected in CONTRACT.items():
        columns = [
            r["column_name"]
            for r in rows(
                engine,
                "select column_name from information_schema.columns "
                "where table_schema = 'sms' and table_name = :t order by ordinal_position",
                t=relation,
            )
        ]
        assert columns[: len(expected.split(", "))] == expected.split(", "), relation
    types = dict(
        (r["column_name"], r["data_type"])
        for r in rows(
            engine,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'sms' and table_name = 'dim_campaign'",
        )
    )
    assert types["created_at"] == "timestamp with time zone"
    assert types["cost"] == "numeric"
    assert types["reported_total"] == "integer"


def test_migrations_apply_once_and_are_recorded(engine: Engine) -> None:
    files = discover()
    assert scalar(engine, "select count(*) from meta.schema_migration") == len(files)
    views = discover_views()
    assert scalar(engine, "select count(*) from meta.view_definition") == len(views)
    assert migrate(engine) == []  # nothing left to apply


def test_a_misnamed_view_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "campaign_delivery.sql").write_text("select 1;\n")
    with pytest.raises(ValueError, match="must look like 10_sms"):
        discover_views(tmp_path)


def test_an_edited_migration_is_refused(engine: Engine, tmp_path: Path) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after being applied\n")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        migrate(engine, tmp_path)


def test_embedded_server_starts_on_demand_and_is_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "postgres"
    first = warehouse_engine.embedded_url(data_dir)
    pid = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    second = warehouse_engine.embedded_url(data_dir)
    assert first == second
    assert (data_dir / "postmaster.pid").read_text().splitlines()[0] == pid  # same server
    eng = warehouse_engine.get_engine(first)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
    finally:
        eng.dispose()
        warehouse_engine.stop_embedded(data_dir)
    assert not (data_dir / "postmaster.pid").exists()


def test_upgrading_a_warehouse_keeps_every_status_change_row(
    warehouse_url: str, tmp_path: Path
) -> None:
    """Migration 0015 moves first observations onto the fact rows: a warehouse filled by
    0.2.0 shows the same sms.fact_recipient_status_change rows after the upgrade."""
    server = make_url(warehouse_url)
    name = f"upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    old = create_engine(server.set(database=name))
    try:
        for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[:14]:  # up to 0.2.0's last
            shutil.copy(path, tmp_path / path.name)
        migrate(old, tmp_path)
        with old.begin() as conn:
            conn.execute(
                text(
                    "insert into sms.fact_recipient_delivery (campaign_id, phone, status, "
                    "delivery_bucket, first_seen_at, status_changed_at) values "
                    "('c1', '+441', 'delivered', 'delivered', '2026-11-20 10:00Z', "
                    "'2026-11-20 11:00Z'), ('c1', '+442', 'queued', 'pending', "
                    "'2026-11-20 10:00Z', '2026-11-20 10:00Z')"
                )
            )
            conn.execute(
                text(
                    "insert into sms.fact_recipient_status_change (campaign_id, phone, "
                    "from_status, to_status, observed_at) values "
                    "('c1', '+441', null, 'sent', '2026-11-20 10:00Z'), "
                    "('c1', '+441', 'sent', 'delivered', '2026-11-20 11:00Z'), "
                    "('c1', '+442', null, 'queued', '2026-11-20 10:00Z')"
                )
            )
        changes = (
            "select phone, from_status, to_status, observed_at "
            "from sms.fact_recipient_status_change order by phone, observed_at"
        )
        before = rows(old, changes)
        assert migrate(old) == [p.stem for p in sorted(MIGRATIONS_DIR.glob("*.sql"))[14:]]
        assert rows(old, changes) == before
        assert scalar(old, "select count(*) from sms.recipient_status_transition") == 1
    finally:
        old.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
