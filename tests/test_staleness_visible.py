"""Staleness is visible: each raw asset says how long ago, per account, its watched campaign
read longest ago was read, and the WARN check ``unsettled_campaigns_are_read_in_time`` names
every watched campaign (not settled, not vanished) left unread longer than recheck_minutes
plus one 15-minute sync. Every expected age and name is worked out here from the planted
times, never read back from the product."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy import Engine, text

from pipelines.defs.checks import check_params
from pipelines.defs.raw_assets import NIXFLEX_RAW, SMSFACTOR_RAW, read_age_metadata
from pipelines.defs.resources import PollingResource
from pipelines.polling.state import read_ages
from pipelines.warehouse.checks import run_check
from tests.conftest import SimulatorHandle
from tests.sync_helpers import checks_by_name, run_full_sync, scalar

CHECK = "unsettled_campaigns_are_read_in_time"
DEFAULT_BOUND = {"stale_after_minutes": 75.0}  # recheck_minutes 60 + one 15-minute sync

_PLANT = text(
    "insert into sms.campaign_poll_state (provider, campaign_id, account, first_seen_at, "
    "last_polled_at, last_listed_at, is_final, settles_at, vanished_at) values (:provider, "
    ":campaign_id, :account, :first_seen_at, :last_polled_at, :last_listed_at, :is_final, "
    ":settles_at, :vanished_at)"
)
_DIM = text(
    "insert into sms.dim_campaign (provider, campaign_id, status, first_seen_at, "
    "last_polled_at) values ('nixflex', :campaign_id, :status, now(), now())"
)


def plant(
    engine: Engine,
    provider: str,
    campaign_id: str,
    *,
    account: str = "default",
    first_seen_at: datetime,
    last_polled_at: datetime | None,
    is_final: bool = False,
    settles_at: datetime | None = None,
    vanished_at: datetime | None = None,
    last_listed_at: datetime | None = None,
    status: str | None = None,
) -> None:
    """One campaign's poll state, as the poller and the loader would have left it (and its
    Nixflex ``status`` as last loaded, when given)."""
    with engine.begin() as conn:
        if status is not None:
            conn.execute(_DIM, {"campaign_id": campaign_id, "status": status})
        conn.execute(
            _PLANT,
            {
                "provider": provider,
                "campaign_id": campaign_id,
                "account": account,
                "first_seen_at": first_seen_at,
                "last_polled_at": last_polled_at,
                "is_final": is_final,
                "settles_at": settles_at,
                "vanished_at": vanished_at,
                "last_listed_at": last_listed_at,
            },
        )


def _warehouse_now(engine: Engine) -> datetime:
    value = scalar(engine, "select now()")
    assert isinstance(value, datetime)
    return value


def plant_mixed_warehouse(engine: Engine) -> set[str]:
    """A clean campaign of each kind and three stale ones; returns the stale ones' names."""
    now = _warehouse_now(engine)
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    # Clean: read 10 minutes ago; read 70 minutes ago (inside the 75-minute bound); settled
    # (final, receipts over) and unread for days; vanished and unread for hours; never read
    # but first seen 10 minutes ago.
    plant(engine, "nixflex", "smsc_fresh", first_seen_at=ago(600), last_polled_at=ago(10))
    plant(engine, "nixflex", "smsc_inside", first_seen_at=ago(600), last_polled_at=ago(70))
    plant(
        engine,
        "nixflex",
        "smsc_settled",
        first_seen_at=ago(7 * 1440),
        last_polled_at=ago(5 * 1440),
        is_final=True,
        settles_at=ago(60),
    )
    plant(
        engine,
        "nixflex",
        "smsc_vanished",
        first_seen_at=ago(600),
        last_polled_at=ago(300),
        vanished_at=ago(290),
    )
    plant(engine, "smsfactor", "910", first_seen_at=ago(10), last_polled_at=None)
    # A draft (nothing sent: its list row is all that can change) listed 10 minutes ago,
    # its detail read a day ago.
    plant(
        engine,
        "nixflex",
        "smsc_draft",
        first_seen_at=ago(2000),
        last_polled_at=ago(1440),
        last_listed_at=ago(10),
        status="draft",
    )
    # Stale (planted defects): unsettled and read two hours ago; final but not settled yet
    # (settles tomorrow) and read two hours ago, on another account; never read, first seen
    # three hours ago.
    plant(engine, "nixflex", "smsc_stale", first_seen_at=ago(600), last_polled_at=ago(120))
    plant(
        engine,
        "nixflex",
        "smsc_settling",
        account="eu",
        first_seen_at=ago(600),
        last_polled_at=ago(120),
        is_final=True,
        settles_at=now + timedelta(days=1),
    )
    plant(engine, "smsfactor", "911", first_seen_at=ago(180), last_polled_at=None)
    # Running: listed 10 minutes ago, but receipts inside one bucket only show in its detail,
    # read two hours ago.
    plant(
        engine,
        "nixflex",
        "smsc_running",
        first_seen_at=ago(600),
        last_polled_at=ago(120),
        last_listed_at=ago(10),
        status="running",
    )
    return {"nixflex:smsc_stale", "nixflex:smsc_settling", "smsfactor:911", "nixflex:smsc_running"}


def test_the_check_warns_naming_every_stale_campaign_and_only_those(engine: Engine) -> None:
    stale = plant_mixed_warehouse(engine)

    result = run_full_sync("full_checks")  # `make checks`, the daily full check
    check = checks_by_name(result)[CHECK]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN  # a WARN: `make checks` still exits 0
    assert set(str(check.metadata["offending_campaigns"].value).split(", ")) == stale
    assert check.metadata["stale_after_minutes"].value == 75.0
    assert check.metadata["scope"].value == "every campaign"
    assert check.metadata["offending_rows"].value == len(stale)


def test_a_warehouse_of_fresh_settled_and_vanished_campaigns_passes(engine: Engine) -> None:
    now = _warehouse_now(engine)
    plant(engine, "nixflex", "smsc_fresh", first_seen_at=now, last_polled_at=now)
    plant(
        engine,
        "nixflex",
        "smsc_settled",
        first_seen_at=now - timedelta(days=9),
        last_polled_at=now - timedelta(days=8),
        is_final=True,
        settles_at=now - timedelta(days=5),
    )
    plant(
        engine,
        "smsfactor",
        "912",
        first_seen_at=now - timedelta(days=2),
        last_polled_at=now - timedelta(days=2),
        vanished_at=now - timedelta(days=1),
    )
    plant(engine, "smsfactor", "913", first_seen_at=now - timedelta(minutes=5), last_polled_at=None)

    check = checks_by_name(run_full_sync("full_checks"))[CHECK]
    assert check.passed  # a declared check reports even when nothing is wrong
    assert check.metadata["offending_rows"].value == 0
    assert "offending_campaigns" not in check.metadata


def test_the_bound_follows_recheck_minutes(engine: Engine) -> None:
    stale = plant_mixed_warehouse(engine)
    assert check_params(CHECK, PollingResource()) == DEFAULT_BOUND
    assert set(run_check(engine, CHECK, params=DEFAULT_BOUND).campaigns) == stale
    # Rechecks every three hours: two hours unread is within bounds, three is not.
    relaxed = check_params(CHECK, PollingResource(recheck_minutes=180))
    assert relaxed == {"stale_after_minutes": 195.0}
    assert run_check(engine, CHECK, params=relaxed).passed
    # Rechecks every 30 minutes: the campaign read 70 minutes ago is late too.
    strict = check_params(CHECK, PollingResource(recheck_minutes=30))
    assert set(run_check(engine, CHECK, params=strict).campaigns) == stale | {"nixflex:smsc_inside"}
    # The other checks take nothing from the polling settings.
    assert check_params("data_is_fresh", PollingResource()) == {}


def test_read_ages_per_account_name_the_campaign_read_longest_ago(engine: Engine) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    read_a = now - timedelta(minutes=95, seconds=30)
    seen_b = now - timedelta(minutes=240)
    plant(engine, "nixflex", "smsc_a1", first_seen_at=read_a, last_polled_at=read_a)
    plant(
        engine,
        "nixflex",
        "smsc_a2",
        first_seen_at=read_a,
        last_polled_at=now - timedelta(minutes=5),
    )
    # Account eu: never read, first seen four hours ago, is its oldest; a campaign read long
    # ago but settled, and one vanished, do not count.
    plant(engine, "nixflex", "smsc_b1", account="eu", first_seen_at=seen_b, last_polled_at=None)
    plant(
        engine,
        "nixflex",
        "smsc_b2",
        account="eu",
        first_seen_at=now - timedelta(days=9),
        last_polled_at=now - timedelta(days=8),
        is_final=True,
        settles_at=now - timedelta(days=5),
    )
    plant(
        engine,
        "nixflex",
        "smsc_b3",
        account="eu",
        first_seen_at=now - timedelta(days=9),
        last_polled_at=now - timedelta(days=8),
        vanished_at=now - timedelta(days=7),
    )
    # Account settled_only: nothing watched there, so no row. Another vendor: not counted.
    plant(
        engine,
        "nixflex",
        "smsc_c1",
        account="settled_only",
        first_seen_at=now - timedelta(days=9),
        last_polled_at=now - timedelta(days=8),
        is_final=True,
        settles_at=now - timedelta(days=5),
    )
    plant(engine, "smsfactor", "914", first_seen_at=seen_b - timedelta(days=1), last_polled_at=None)

    ages = {a.account: a for a in read_ages(engine, "nixflex", now)}
    assert set(ages) == {"default", "eu"}
    default, eu = ages["default"], ages["eu"]
    assert (default.unsettled_campaigns, default.oldest_campaign_id) == (2, "smsc_a1")
    assert default.oldest_read_minutes == (now - read_a).total_seconds() / 60  # 95.5
    assert not default.oldest_never_read and default.oldest_read_at == read_a
    assert (eu.unsettled_campaigns, eu.oldest_campaign_id, eu.oldest_never_read) == (
        1,
        "smsc_b1",
        True,
    )
    assert eu.oldest_read_minutes == 240.0

    metadata = read_age_metadata(list(ages.values()))
    assert metadata["oldest_unsettled_read_minutes"] == dg.MetadataValue.float(240.0)
    assert metadata["unsettled_campaigns"] == 3
    table = str(metadata["unsettled_read_age"].value)  # type: ignore[attr-defined]
    assert "| default | 2 | 95.5 min" in table and "smsc_a1 |" in table
    assert "| eu | 1 | 240.0 min (never read, first seen" in table and "smsc_b1 |" in table

    assert read_age_metadata([])["oldest_unsettled_read_minutes"] == dg.MetadataValue.float(0.0)


def test_a_sync_shows_read_ages_on_the_raw_assets_and_warns_about_what_it_left_stale(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    """Accounts the sync does not poll (no key configured any more) keep their campaigns
    watched: they age, the raw assets say how much, and the check after the sync names them."""
    now = simulator.clock.now()  # the sync's own "now": the simulator's frozen clock
    nixflex_read = now - timedelta(minutes=180)
    smsfactor_seen = now - timedelta(minutes=100)
    plant(
        engine,
        "nixflex",
        "smsc_unpolled",
        account="eu",
        first_seen_at=nixflex_read,
        last_polled_at=nixflex_read,
    )
    plant(
        engine,
        "smsfactor",
        "990001",
        account="fr",
        first_seen_at=smsfactor_seen,
        last_polled_at=None,
    )

    result = run_full_sync()  # `make sync`
    assert result.success
    nixflex = result.asset_materializations_for_node("raw__nixflex_responses")[-1]
    smsfactor = result.asset_materializations_for_node("raw__smsfactor_responses")[-1]
    assert nixflex.asset_key == NIXFLEX_RAW and smsfactor.asset_key == SMSFACTOR_RAW
    # The campaigns the sync read are 0 minutes old on its clock: the unpolled one is oldest.
    assert nixflex.metadata["oldest_unsettled_read_minutes"].value == 180.0
    assert smsfactor.metadata["oldest_unsettled_read_minutes"].value == 100.0
    nixflex_table = str(nixflex.metadata["unsettled_read_age"].value)
    assert "| eu | 1 | 180.0 min (read " in nixflex_table and "smsc_unpolled |" in nixflex_table
    smsfactor_table = str(smsfactor.metadata["unsettled_read_age"].value)
    assert "| fr | 1 | 100.0 min (never read, first seen " in smsfactor_table

    check = checks_by_name(result)[CHECK]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    # Everything the sync read is fresh; only the two left behind are named.
    assert set(str(check.metadata["offending_campaigns"].value).split(", ")) == {
        "nixflex:smsc_unpolled",
        "smsfactor:990001",
    }
