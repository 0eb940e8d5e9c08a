"""The raw landing and the status transitions are partitioned by month, made ahead of time;
an existing warehouse is converted with every row and description kept."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines.warehouse import lanes
from pipelines.warehouse import migrate as migrate_module
from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.migrate import MIGRATIONS_DIR, migrate
from pipelines.warehouse.partitions import ensure_partitions
from tests.conftest import SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, scalar

PARTITIONED = {
    "raw.vendor_response": "fetched_at",
    "sms.recipient_status_transition": "observed_at",
}


def _partitions(engine: Engine, parent: str) -> dict[str, str]:
    """partition name -> its bounds, as Postgres states them."""
    return {
        str(r["name"]): str(r["bounds"])
        for r in rows(
            engine,
            "select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bounds "
            "from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = cast(:parent as regclass)",
            parent=parent,
        )
    }


def _month(offset: int) -> str:
    now = datetime.now(UTC)
    year, month = divmod(now.year * 12 + now.month - 1 + offset, 12)
    return f"{year:04d}_{month + 1:02d}"


@pytest.mark.parametrize("parent", sorted(PARTITIONED))
def test_this_month_and_the_next_two_exist_before_anything_lands(
    engine: Engine, parent: str
) -> None:
    table = parent.split(".")[1]
    assert (
        scalar(
            engine,
            "select count(*) from pg_partitioned_table where partrelid = cast(:p as regclass)",
            p=parent,
        )
        == 1
    )
    names = set(_partitions(engine, parent))
    assert {f"{table}_{_month(k)}" for k in range(3)} | {f"{table}_default"} <= names


def test_rows_that_came_before_their_month_move_into_it(engine: Engine) -> None:
    """A landing five months ahead (a wrong clock, say) goes to the default partition;
    making that month's partition moves it there, and nothing is lost."""
    ahead = datetime.now(UTC).replace(day=15) + timedelta(days=5 * 31)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into raw.vendor_response (provider, endpoint, request_path, "
                "http_status, fetched_at, content_hash, body) values "
                "('nixflex', 'campaign.list', '/campaigns', 200, :at, 'x', '\\x7b7d')"
            ),
            {"at": ahead},
        )
    where = "select tableoid::regclass::text from raw.vendor_response"
    assert scalar(engine, where) == "partitions.vendor_response_default"
    with engine.begin() as conn:
        made = conn.execute(
            text(
                "select raw.ensure_month_partitions('raw.vendor_response', 'fetched_at', "
                "now(), :at)"
            ),
            {"at": ahead},
        ).scalar_one()
    assert made >= 1
    month = ahead.strftime("%Y_%m")
    assert scalar(engine, where) == f"partitions.vendor_response_{month}"
    assert scalar(engine, "select count(*) from raw.vendor_response") == 1


def test_months_are_utc_months_whatever_the_session_time_zone(engine: Engine) -> None:
    """A server or role set to Europe/Paris: across the spring daylight-saving change
    (2024-03-31) every month still gets its own partition, bounded at UTC midnights, and a
    row lands in its UTC month."""
    try:
        with engine.begin() as conn:
            conn.execute(text("set local timezone to 'Europe/Paris'"))
            conn.execute(
                text(
                    "select raw.ensure_month_partitions('raw.vendor_response', 'fetched_at', "
                    "'2024-02-15 12:00+00', '2024-05-15 12:00+00')"
                )
            )
        with engine.begin() as conn:  # bounds as Postgres prints them in a UTC session
            conn.execute(text("set local timezone to 'UTC'"))
            made = {
                r.name: r.bounds
                for r in conn.execute(
                    text(
                        "select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bounds "
                        "from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                        "where i.inhparent = 'raw.vendor_response'::regclass"
                    )
                )
            }
        for month, start, end in [
            ("2024_02", "2024-02-01", "2024-03-01"),
            ("2024_03", "2024-03-01", "2024-04-01"),
            ("2024_04", "2024-04-01", "2024-05-01"),
            ("2024_05", "2024-05-01", "2024-06-01"),
        ]:
            bounds = made[f"vendor_response_{month}"]
            for day in (start, end):
                assert f"'{day} 00:00:00+00'" in bounds, (month, bounds)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "insert into raw.vendor_response (provider, endpoint, request_path, "
                    "http_status, fetched_at, content_hash, body) values ('nixflex', "
                    "'campaign.list', '/campaigns', 200, '2024-03-31 23:30+00', 'x', '\\x7b7d')"
                )
            )
        where = "select tableoid::regclass::text from raw.vendor_response"
        assert scalar(engine, where) == "partitions.vendor_response_2024_03"
    finally:  # the other tests expect only the months around now
        with engine.begin() as conn:
            for month in ("02", "03", "04", "05"):
                conn.execute(text(f"drop table if exists partitions.vendor_response_2024_{month}"))


def test_the_loader_makes_a_missing_partition_again(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    nxt = f"partitions.vendor_response_{_month(1)}"
    with engine.begin() as conn:
        conn.execute(text(f"drop table {nxt}"))
    assert run_full_sync().success
    assert f"vendor_response_{_month(1)}" in _partitions(engine, "raw.vendor_response")
    assert ensure_partitions(engine) == 0  # all there: nothing to do


def test_the_partition_function_refuses_other_tables(engine: Engine) -> None:
    with pytest.raises(Exception, match="not a table partitioned by month"), engine.begin() as c:
        c.execute(
            text(
                "select raw.ensure_month_partitions('sms.dim_campaign', 'fetched_at', now(), now())"
            )
        )


@pytest.fixture
def old_warehouse(warehouse_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A fresh database migrated only up to 0025 (before partitioning), and that directory."""
    server = make_url(warehouse_url)
    name = f"sms_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) <= 25:
            shutil.copy(path, before / path.name)
    eng = get_engine(url)
    migrate(eng, before)
    try:
        yield eng, before
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


_SNAPSHOT = {
    "raw.vendor_response": "select response_id, provider, endpoint, campaign_id, fetched_at, "
    "content_hash, load_status, duplicate_of, md5(body) as body from raw.vendor_response",
    "raw.quarantine": "select response_id, kind, reason from raw.quarantine",
    "sms.fact_recipient_status_change": "select * from sms.fact_recipient_status_change",
    "sms.recipient_time_to_delivery": "select * from sms.recipient_time_to_delivery",
    "sms.campaign_delivery": "select * from sms.campaign_delivery",
}


def _snapshot(engine: Engine) -> dict[str, list[str]]:
    return {name: sorted(map(repr, rows(engine, sql))) for name, sql in _SNAPSHOT.items()}


def test_an_existing_warehouse_keeps_every_row_and_description(
    old_warehouse: tuple[Engine, Path],
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eng, before_dir = old_warehouse
    monkeypatch.setenv("WAREHOUSE_URL", eng.url.render_as_string(hide_password=False))
    # Fill it as the release before partitioning did: its migrations only, no partitions.
    real_migrate = migrate_module.migrate
    monkeypatch.setattr(migrate_module, "migrate", lambda e: real_migrate(e, before_dir))
    monkeypatch.setattr(lanes, "ensure_partitions", lambda e: 0)
    # Only what it loads matters here: this release's checks read columns that come with
    # its later migrations (0032's landed_at), so those steps of these two runs fail.
    run_full_sync()
    simulator.clock.advance(timedelta(hours=2))
    run_full_sync()  # later status changes
    before = _snapshot(eng)
    assert before["sms.fact_recipient_status_change"] and before["raw.vendor_response"]
    assert scalar(eng, "select count(*) from sms.recipient_status_transition") > 0
    top = scalar(eng, "select max(response_id) from raw.vendor_response")
    described = scalar(
        eng, "select col_description('sms.fact_recipient_status_change'::regclass, 6)"
    )

    applied = real_migrate(eng)  # the real directory: 0026 onwards
    assert applied and applied[0].startswith("0026")
    assert _snapshot(eng) == before
    for parent in PARTITIONED:
        assert (
            scalar(
                eng,
                "select count(*) from pg_partitioned_table where partrelid = cast(:p as regclass)",
                p=parent,
            )
            == 1
        )
    after = scalar(eng, "select col_description('sms.fact_recipient_status_change'::regclass, 6)")
    assert after == described and described
    assert scalar(eng, "select obj_description('sms.recipient_time_to_delivery'::regclass)")

    # Syncing on: the next answers get new ids, above every id landed before.
    monkeypatch.setattr(migrate_module, "migrate", real_migrate)
    monkeypatch.setattr(lanes, "ensure_partitions", ensure_partitions)
    simulator.clock.advance(timedelta(minutes=15))
    assert run_full_sync().success
    new_ids = rows(eng, "select response_id from raw.vendor_response where response_id > :t", t=top)
    assert new_ids
    duplicated = (
        "select count(*) from (select response_id from raw.vendor_response "
        "group by 1 having count(*) > 1) as d"
    )
    assert scalar(eng, duplicated) == 0


def test_analysts_see_no_partitions_and_cannot_read_them(engine: Engine) -> None:
    """BI tools listing sms show the relations analysts query, not one table per month; a
    month of raw answers is as closed to analysts as raw itself."""
    assert (
        scalar(
            engine,
            "select count(*) from pg_inherits i join pg_class c on "
            "c.oid = i.inhrelid where c.relnamespace = 'sms'::regnamespace",
        )
        == 0
    )
    if scalar(engine, "select count(*) from pg_roles where rolname = 'sms_analyst'"):
        assert (
            scalar(engine, "select has_schema_privilege('sms_analyst', 'partitions', 'usage')")
            is False
        )
