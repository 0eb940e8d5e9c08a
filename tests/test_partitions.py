"""The raw landing and the status transitions are partitioned by month, made ahead of time;
an existing warehouse is converted with every row and description kept."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.migrate import MIGRATIONS_DIR, migrate
from pipelines.warehouse.partitions import ensure_partitions
from tests.conftest import SimulatorHandle, set_time_zone, time_zone_of
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


@contextmanager
def _database_migrated_up_to(
    warehouse_url: str, tmp_path: Path, last: int, zone: str
) -> Iterator[tuple[Engine, Path]]:
    """A fresh database on ``warehouse_url``'s server, sessions in ``zone``, migrated only up
    to migration ``last``; and the directory of those migrations."""
    server = make_url(warehouse_url)
    name = f"sms_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
        set_time_zone(conn, name, zone)
    url = server.set(database=name).render_as_string(hide_password=False)
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) <= last:
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


@pytest.fixture
def old_warehouse(warehouse_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A fresh database migrated only up to 0025 (before partitioning), and that directory."""
    with _database_migrated_up_to(warehouse_url, tmp_path, 25, time_zone_of(warehouse_url)) as w:
        yield w


_SNAPSHOT = {
    "raw.vendor_response": "select response_id, provider, endpoint, campaign_id, fetched_at, "
    "content_hash, load_status, duplicate_of, md5(body) as body from raw.vendor_response",
    "raw.quarantine": "select response_id, kind, reason from raw.quarantine",
    "sms.fact_recipient_status_change": "select * from sms.fact_recipient_status_change",
    # Its columns of the release before partitioning (later ones append account, sender,
    # day), counted after the upgrade from the totals migration 0045 fills.
    "sms.campaign_delivery": "select provider, campaign_id, name, status, created_at, total, "
    "delivered, failed, pending, unknown, delivery_rate, as_of from sms.campaign_delivery",
}


def _snapshot(engine: Engine) -> dict[str, list[str]]:
    return {name: sorted(map(repr, rows(engine, sql))) for name, sql in _SNAPSHOT.items()}


def _tables(engine: Engine) -> dict[str, list[str]]:
    """Every table of raw and sms (partitions aside) -> its columns."""
    found: dict[str, list[str]] = {}
    for r in rows(
        engine,
        "select c.table_schema || '.' || c.table_name as t, c.column_name as col "
        "from information_schema.columns as c join information_schema.tables as t "
        "using (table_schema, table_name) where c.table_schema in ('raw', 'sms') "
        "and t.table_type = 'BASE TABLE' order by c.ordinal_position",
    ):
        found.setdefault(str(r["t"]), []).append(str(r["col"]))
    return found


def _copy_into_older(current: Engine, older: Engine) -> None:
    """What ``current`` holds, written into ``older``'s schema: every column the older
    release already had (a release never drops or renames a loaded column)."""
    have = _tables(current)
    with older.begin() as conn:
        for table, columns in _tables(older).items():
            common = [c for c in columns if c in have.get(table, [])]
            found = [
                {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in r.items()}
                for r in rows(current, f"select {', '.join(common)} from {table}")
            ]
            if found:
                conn.execute(
                    text(
                        f"insert into {table} ({', '.join(common)}) overriding system value "
                        f"values ({', '.join(':' + c for c in common)})"
                    ),
                    found,
                )


def test_an_existing_warehouse_keeps_every_row_and_description(
    old_warehouse: tuple[Engine, Path],
    engine: Engine,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eng, _ = old_warehouse
    # What two syncs load (the second with later status changes), as the release before
    # partitioning held it: the columns of its migrations only, no partitions.
    assert run_full_sync().success
    simulator.clock.advance(timedelta(hours=2))
    assert run_full_sync().success
    _copy_into_older(engine, eng)
    before = _snapshot(eng)
    assert before["sms.fact_recipient_status_change"] and before["raw.vendor_response"]
    assert scalar(eng, "select count(*) from sms.recipient_status_transition") > 0
    top = scalar(eng, "select max(response_id) from raw.vendor_response")
    described = scalar(
        eng, "select col_description('sms.fact_recipient_status_change'::regclass, 6)"
    )

    applied = migrate(eng)  # the real directory: 0026 onwards
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
    monkeypatch.setenv("WAREHOUSE_URL", eng.url.render_as_string(hide_password=False))
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


def _bounds_in_utc(engine: Engine, parent: str) -> dict[str, str]:
    """partition name -> its bounds, as Postgres prints them in a UTC session."""
    with engine.begin() as conn:
        conn.execute(text("set local timezone to 'UTC'"))
        found = conn.execute(
            text(
                "select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bounds "
                "from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = cast(:parent as regclass)"
            ),
            {"parent": parent},
        )
        return {str(r.name): str(r.bounds) for r in found}


# Instants near the month boundaries that partitions made in Paris before 0034 got wrong,
# with the UTC month each belongs to (worked out by hand).
_NEAR_BOUNDARIES = {
    "2024-03-31 22:30+00": "2024_03",  # already April 1st in Paris (summer time)
    "2024-03-31 23:30+00": "2024_03",
    "2024-04-15 00:00+00": "2024_04",  # April had no partition of its own: the default one
    "2024-04-30 23:30+00": "2024_04",
    "2024-09-30 23:30+00": "2024_09",
    "2024-10-15 00:00+00": "2024_10",
    "2024-10-31 23:30+00": "2024_10",
    "2024-11-01 00:30+00": "2024_11",
}


def _where_rows_are(engine: Engine) -> list[tuple[str, str, str]]:
    """(table, instant in UTC, partition holding it) of every row of the two tables."""
    with engine.begin() as conn:
        conn.execute(text("set local timezone to 'UTC'"))
        return sorted(
            (str(r[0]), str(r[1]), str(r[2]))
            for r in conn.execute(
                text(
                    "select 'raw.vendor_response', fetched_at::text, tableoid::regclass::text "
                    "from raw.vendor_response union all "
                    "select 'sms.recipient_status_transition', observed_at::text, "
                    "tableoid::regclass::text from sms.recipient_status_transition"
                )
            )
        )


def test_partitions_made_in_paris_before_0034_are_rebuilt_as_utc_months(
    warehouse_url: str, tmp_path: Path
) -> None:
    """A warehouse whose partitions were made by the old function in a Europe/Paris session
    (March ending at 23:00 UTC on the 31st, a partition named April holding May, no October):
    migrating rebuilds every month as a UTC month, each row in its own month exactly once,
    the default partition emptied."""
    with _database_migrated_up_to(warehouse_url, tmp_path, 33, "Europe/Paris") as (eng, _):
        with eng.begin() as conn:
            for parent, key in PARTITIONED.items():
                conn.execute(
                    text(
                        "select raw.ensure_month_partitions(cast(:p as regclass), :k, "
                        "'2024-01-15 12:00+00', '2024-12-15 12:00+00')"
                    ),
                    {"p": parent, "k": key},
                )
            for n, at in enumerate(_NEAR_BOUNDARIES):
                conn.execute(
                    text(
                        "insert into raw.vendor_response (provider, endpoint, request_path, "
                        "http_status, fetched_at, content_hash, body) values ('nixflex', "
                        "'campaign.list', '/campaigns', 200, :at, 'x', '\\x7b7d')"
                    ),
                    {"at": at},
                )
                conn.execute(
                    text(
                        "insert into sms.recipient_status_transition (provider, campaign_id, "
                        "phone, from_status, to_status, observed_at) values "
                        "('nixflex', 'c1', :phone, 'sent', 'delivered', :at)"
                    ),
                    {"phone": f"+3360000000{n}", "at": at},
                )
        wrong = _bounds_in_utc(eng, "raw.vendor_response")
        assert "'2024-03-31 23:00:00+00'" in wrong["vendor_response_2024_03"]
        assert "vendor_response_2024_10" not in wrong
        assert (
            "raw.vendor_response",
            "2024-04-15 00:00:00+00",
            "partitions.vendor_response_default",
        ) in _where_rows_are(eng)

        migrate(eng)  # the real directory: 0034 onwards

        expected = sorted(
            (parent, f"{at[:-3]}:00+00", f"partitions.{parent.split('.')[1]}_{month}")
            for parent in PARTITIONED
            for at, month in _NEAR_BOUNDARIES.items()
        )
        assert _where_rows_are(eng) == expected
        assert scalar(eng, "select count(distinct response_id) from raw.vendor_response") == len(
            _NEAR_BOUNDARIES
        )
        for parent in PARTITIONED:
            table = parent.split(".")[1]
            bounds = _bounds_in_utc(eng, parent)
            for month in range(1, 13):
                start = f"2024-{month:02d}-01"
                end = f"2024-{month + 1:02d}-01" if month < 12 else "2025-01-01"
                assert bounds.pop(f"{table}_2024_{month:02d}") == (
                    f"FOR VALUES FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')"
                )
            assert bounds.pop(f"{table}_default") == "DEFAULT"
            for name, rest in bounds.items():  # the months around today, made by 0027/0028
                assert name[-7:-3] != "2024" and "00:00:00+00" in rest, (name, rest)
