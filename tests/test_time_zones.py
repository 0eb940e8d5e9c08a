"""The warehouse gives the same numbers whatever the TimeZone of its sessions.

The same vendor answers (one sync an hour before a month ends, one an hour or two into the
next, campaigns spread over the six days before: across Europe/Paris's daylight-saving
change and several UTC midnights) are loaded into databases whose sessions run in UTC,
Europe/Paris, America/Los_Angeles and Pacific/Chatham (+13:45). Every ``sms`` view, read in
one fixed zone, has the same rows in all of them; the month partitions and raw retention
choose the same months, and every answer retention keeps still reads back its bytes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines import clock as pipeline_clock
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock, Simulator, serve
from pipelines.warehouse import sqlfiles
from pipelines.warehouse.bodies import read_back
from pipelines.warehouse.detection import DetectionSettings, delivery_drops, stuck_campaigns
from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.loader import refresh_aggregates
from pipelines.warehouse.migrate import migrate
from pipelines.warehouse.replay import ReplayScope, replay
from pipelines.warehouse.retention import prune_raw
from tests.conftest import EMBEDDED_TIME_ZONE, set_time_zone, time_zone_of
from tests.sync_helpers import run_full_sync

ZONES = ("UTC", "Europe/Paris", "America/Los_Angeles", "Pacific/Chatham")
# The first sync: in the last hour of a month (UTC), which in Paris is already the next
# month's first day; Paris changed to summer time on 2024-03-31 at 01:00 UTC and back to
# winter time on 2024-10-27 at 01:00 UTC, inside the six days of campaigns before.
ANCHORS = {
    "spring": datetime(2024, 3, 31, 22, 40, tzinfo=UTC),
    "autumn": datetime(2024, 10, 31, 23, 10, tzinfo=UTC),
}
PARTITIONED = {
    "raw.vendor_response": "fetched_at",
    "sms.recipient_status_transition": "observed_at",
}


class Databases:
    """Databases made for one test on ``warehouse_url``'s server, dropped at the end."""

    def __init__(self, warehouse_url: str) -> None:
        self.server = make_url(warehouse_url)
        self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        self.prefix = f"sms_tz_{uuid.uuid4().hex[:8]}"
        self.names: list[str] = []

    def create(self, suffix: str, zone: str, template: str | None = None) -> Engine:
        name = f"{self.prefix}_{suffix}"
        with self.admin.connect() as conn:
            like = f' template "{template}"' if template else ""
            conn.execute(text(f'create database "{name}"{like}'))
            set_time_zone(conn, name, zone)
        self.names.append(name)
        return get_engine(self.url(name))

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in reversed(self.names):
            get_engine(self.url(name)).dispose()
            with self.admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        self.admin.dispose()


@pytest.fixture
def databases(warehouse_url: str) -> Iterator[Databases]:
    made = Databases(warehouse_url)
    try:
        yield made
    finally:
        made.drop_all()


def _partitions_around(engine: Engine, anchor: datetime) -> None:
    """The months from 40 days before ``anchor`` to the day after it (the next month), made in
    the database's own session zone."""
    with engine.begin() as conn:
        for parent, key in PARTITIONED.items():
            conn.execute(
                text("select raw.ensure_month_partitions(cast(:p as regclass), :k, :first, :last)"),
                {
                    "p": parent,
                    "k": key,
                    "first": anchor - timedelta(days=40),
                    "last": anchor + timedelta(days=1),
                },
            )


def _sync_twice(
    engine: Engine, url: str, anchor: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two syncs from the simulator: at ``anchor`` and two hours later (the next month)."""
    clock = SimClock(start=anchor)
    monkeypatch.setattr(pipeline_clock, "utcnow", clock.now)
    monkeypatch.setenv("WAREHOUSE_URL", url)
    sim = Simulator(
        seed=11, nixflex_campaigns=10, smsfactor_campaigns=10, clock=clock, anchor=anchor
    )
    with serve(sim) as base_url:
        monkeypatch.setenv("NIXFLEX_BASE_URL", f"{base_url}/nixflex/v1")
        monkeypatch.setenv("NIXFLEX_API_KEY", NIXFLEX_DEMO_KEY)
        monkeypatch.setenv("SMSFACTOR_BASE_URL", f"{base_url}/smsfactor")
        monkeypatch.setenv("SMSFACTOR_API_TOKEN", SMSFACTOR_DEMO_TOKEN)
        run_full_sync()  # its freshness checks fail (2024 is long ago): only the load matters
        clock.advance(timedelta(hours=2))
        run_full_sync()


def _copy_raw(source: Engine, target: Engine) -> None:
    """Every landed answer of ``source``, as it is, into ``target``."""
    with source.connect() as src, target.begin() as dst:
        out = src.connection.driver_connection.cursor()
        into = dst.connection.driver_connection.cursor()
        with (
            out.copy("copy (select * from raw.vendor_response) to stdout (format binary)") as o,
            into.copy("copy raw.vendor_response from stdin (format binary)") as i,
        ):
            for block in o:
                i.write(block)


def _in_utc(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.begin() as conn:
        conn.execute(text("set local timezone to 'UTC'"))
        return [tuple(r) for r in conn.execute(text(sql))]


def _views(engine: Engine) -> dict[str, list[str]]:
    """Every row of every sms view, as text in a UTC session, sorted."""
    names = [
        str(r[0])
        for r in _in_utc(
            engine,
            "select table_name from information_schema.views where table_schema = 'sms'",
        )
    ]
    return {
        name: [str(r[0]) for r in _in_utc(engine, _NOW_RELATIVE.get(name, _WHOLE).format(name))]
        for name in sorted(names)
    }


_WHOLE = "select v::text from sms.{} as v order by 1"
# A view with a column counted from now(): every other column (the minutes differ between
# databases read a moment apart, in any zone).
_NOW_RELATIVE = {
    "data_freshness": "select (provider, account, last_answer_at, last_sync_at, last_outcome)"
    "::text from sms.{} order by 1",
}


def _layout(engine: Engine) -> list[tuple[object, ...]]:
    """Each month partition's bounds, and which partition holds each row (UTC session)."""
    return _in_utc(
        engine,
        "select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i "
        "join pg_class c on c.oid = i.inhrelid where i.inhparent in "
        "('raw.vendor_response'::regclass, 'sms.recipient_status_transition'::regclass) "
        "and c.relname ~ '_2024_' order by 1",
    ) + _in_utc(
        engine,
        "select response_id::text, tableoid::regclass::text from raw.vendor_response "
        "union all select campaign_id || phone || observed_at::text, tableoid::regclass::text "
        "from sms.recipient_status_transition order by 1",
    )


def _bytes(engine: Engine) -> dict[int, bytes | None]:
    with engine.connect() as conn:
        ids = conn.execute(text("select response_id from raw.vendor_response")).scalars().all()
        return {int(i): read_back(conn, int(i))[1] for i in ids}


def test_the_test_databases_run_in_the_zones_ci_says(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    """conftest: the embedded backend's database in Europe/Paris (unless overridden), the
    machine's server's in that server's own zone (UTC in CI)."""
    with engine.connect() as conn:
        zone = conn.execute(text("show timezone")).scalar_one()
    if request.node.callspec.params["warehouse_url"] == "embedded":
        assert zone == EMBEDDED_TIME_ZONE
    else:
        assert zone == time_zone_of(os.environ["WAREHOUSE_TEST_URL"])


def _detections(engine: Engine, at: datetime) -> dict[str, list]:
    """What the detection checks find two hours after the second sync (every segment's rate
    in the window; campaigns pending an hour after sending) and the aggregate they read."""
    settings = DetectionSettings(min_messages=1, drop_percent=1, stuck_after_hours=1)
    as_of = at + timedelta(hours=4)
    hours = "select * from sms.campaign_outcome_hour order by 1, 2, 3, 4, 5, 6, 7"
    return {
        "delivery_drops": delivery_drops(engine, as_of, settings).rows,
        "stuck_campaigns": stuck_campaigns(engine, as_of, settings).rows,
        "campaign_outcome_hour": [tuple(r) for r in _in_utc(engine, hours)],
    }


@pytest.mark.parametrize("anchor", sorted(ANCHORS))
def test_every_view_partition_and_retained_month_is_the_same_in_every_zone(
    databases: Databases, anchor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same answers (see the module) in four zones: the same rows in every sms view, the
    same month partitions holding the same rows (each in its UTC month), and retention
    deleting the same month and keeping every later answer's bytes."""
    at = ANCHORS[anchor]
    blank = databases.create("blank", "UTC")
    migrate(blank)
    blank.dispose()
    source = databases.create("source", "UTC", template=f"{databases.prefix}_blank")
    _partitions_around(source, at)
    _sync_twice(source, databases.url(f"{databases.prefix}_source"), at, monkeypatch)
    answers = _bytes(source)
    month_of = {
        int(r[0]): (r[1], r[2])
        for r in _in_utc(
            source,
            "select response_id, to_char(fetched_at, 'YYYY-MM'), duplicate_of "
            "from raw.vendor_response",
        )
    }
    this_month, next_month = f"{at:%Y-%m}", f"{at + timedelta(hours=2):%Y-%m}"
    # The answers do cross the month, and some of the next month's share a deleted one's bytes.
    assert {m for m, _ in month_of.values()} == {this_month, next_month}
    assert any(m == next_month and month_of[d][0] == this_month for m, d in month_of.values() if d)

    views, layouts, kept = {}, {}, {}
    for n, zone in enumerate(ZONES):
        target = databases.create(f"z{n}", zone, template=f"{databases.prefix}_blank")
        _partitions_around(target, at)
        _copy_raw(source, target)
        replay(target, ReplayScope.ALL)
        views[zone], layouts[zone] = _views(target), _layout(target)
        views[zone] |= _detections(target, at)
        with target.connect() as conn:
            today = conn.execute(text("select (now() at time zone 'UTC')::date")).scalar_one()
        keep = (today.year * 12 + today.month) - (at.year * 12 + at.month)  # from next_month on
        pruned = prune_raw(target, keep_months=keep)
        kept[zone] = (pruned.months, _bytes(target))

    reference = views["UTC"]
    assert reference["daily_delivery"] and reference["fact_recipient_delivery"]
    # Both syncs' outcomes fall in the window; the days before hold none (no baseline).
    assert reference["delivery_drops"] and reference["stuck_campaigns"]
    assert reference["campaign_outcome_hour"]
    for zone in ZONES[1:]:
        for name, found in views[zone].items():
            assert found == reference[name], (zone, name)
        assert layouts[zone] == layouts["UTC"], zone
        assert kept[zone] == kept["UTC"], zone
    placed = {k: v for k, v in layouts["UTC"] if str(k).isdigit()}
    assert placed == {
        str(i): f"partitions.vendor_response_{m.replace('-', '_')}"
        for i, (m, _) in month_of.items()
    }
    months, left = kept["UTC"]
    assert f"{months[-1]:%Y-%m}" == this_month
    assert sorted(left) == sorted(i for i, (m, _) in month_of.items() if m == next_month)
    assert left == {i: answers[i] for i in left}  # each kept answer reads back its own bytes


def test_the_delivery_charts_last_day_is_todays_utc_date_in_every_zone(engine: Engine) -> None:
    """The delivery mart's chart over its last day shows the campaign sent today (UTC) and not
    the one scheduled tomorrow (UTC), in a session at +14 h and one at -12 h as in UTC (at any
    hour, one of those two is on another date than UTC)."""
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with engine.begin() as conn:
        for campaign, sent, delivered in (
            ("today", today, 5),
            ("tomorrow", today + timedelta(days=1), 10),
        ):
            conn.execute(
                text(
                    "insert into sms.dim_campaign (provider, campaign_id, status, created_at, "
                    "sent_at, first_seen_at, last_polled_at, account) values ('smsfactor', :c, "
                    "'Sent', :at, :at, :at, :at, 'default')"
                ),
                {"c": campaign, "at": sent},
            )
            conn.execute(
                text(
                    "insert into sms.fact_campaign_counters (provider, campaign_id, observed_at, "
                    "status, total, delivered, error, expired, network_error, stop, npai, "
                    "delivery_rate, cost) values ('smsfactor', :c, :at, 'Sent', 10, :d, 0, 0, 0, "
                    "0, 0, :d * 10, 0)"
                ),
                {"c": campaign, "at": sent, "d": delivered},
            )
            refresh_aggregates(conn, "smsfactor", campaign)  # as the loader does
    chart = text(sqlfiles.read("reporting/delivery_rate_by_day.sql"))
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        with engine.begin() as conn:
            conn.execute(text(f"set local timezone to '{zone}'"))
            found = [(d, p, float(r)) for d, p, r in conn.execute(chart, {"days": 1})]
        assert found == [(today.date(), "smsfactor", 0.5)], zone
