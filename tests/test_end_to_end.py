"""Simulator over real HTTP → the real Dagster job → SQL assertions on every contract relation.

Expectations are derived from what the simulator serves (read over HTTP by the test itself)
and the vendors' documented rules, written out here independently of the product's code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from pipelines.cli import run_sync
from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, SimClock, Simulator, serve
from tests.conftest import T0, SimulatorHandle
from tests.sync_helpers import (
    BUCKET,
    assert_mart_matches_vendors,
    assert_only_held_campaigns_are_stuck,
    checks_by_name,
    nixflex_campaigns,
    rows,
    run_full_sync,
    scalar,
    smsfactor_campaigns,
)

pytestmark = pytest.mark.slow


def test_full_sync_fills_every_contract_relation(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    result = run_full_sync()
    assert result.success
    assert_only_held_campaigns_are_stuck(checks_by_name(result), simulator.base_url)

    nixflex = nixflex_campaigns(simulator.base_url)
    smsfactor = smsfactor_campaigns(simulator.base_url)
    assert set(nixflex) == set(simulator.sim.nixflex_campaign_ids())

    dim = {
        (r["provider"], r["campaign_id"]): r for r in rows(engine, "select * from sms.dim_campaign")
    }
    assert set(dim) == {("nixflex", c) for c in nixflex} | {("smsfactor", c) for c in smsfactor}
    for cid, doc in nixflex.items():
        row = dim[("nixflex", cid)]
        assert row["sender"] == doc["from_number"]
        assert row["message_text"] == doc["message_template"]
        assert row["status"] == doc["status"]
        assert (
            row["reported_total"],
            row["reported_delivered"],
            row["reported_failed"],
            row["reported_pending"],
        ) == (doc["total_count"], doc["delivered_count"], doc["failed_count"], doc["pending_count"])

    paris = ZoneInfo("Europe/Paris")
    for cid, doc in smsfactor.items():
        row = dim[("smsfactor", cid)]
        local = datetime.strptime(doc["creation_date"], "%Y-%m-%d %H:%M:%S")
        assert row["created_at"] == local.replace(tzinfo=paris).astimezone(UTC)
        assert row["reported_total"] == int(doc["total"])
        assert row["reported_failed"] is None and row["reported_pending"] is None
        assert row["cost"] == Decimal(doc["cost"])

    # Recipients: one row each, latest state, bucket by the documented rule.
    facts = {
        (r["campaign_id"], r["phone"]): r
        for r in rows(engine, "select * from sms.fact_recipient_delivery")
    }
    expected = {(cid, r["phone"]): r for cid, doc in nixflex.items() for r in doc["recipients"]}
    assert set(facts) == set(expected)
    for key, recipient in expected.items():
        assert facts[key]["status"] == recipient["status"]
        assert facts[key]["delivery_bucket"] == BUCKET[recipient["status"]]
        assert facts[key]["variables"] == recipient["variables"]

    # First sighting of every recipient: one change row with from_status NULL.
    changes = rows(engine, "select * from sms.fact_recipient_status_change")
    assert len(changes) == len(expected)
    assert all(c["from_status"] is None for c in changes)

    # Counters: integers, one snapshot per campaign after one read.
    counters = {
        r["campaign_id"]: r for r in rows(engine, "select * from sms.fact_campaign_counters")
    }
    assert set(counters) == set(smsfactor)
    for cid, doc in smsfactor.items():
        for name in ("total", "delivered", "error", "expired", "network_error", "stop", "npai"):
            assert counters[cid][name] == int(doc[name])

    # The mart, recomputed by hand.
    assert_mart_matches_vendors(engine, nixflex, smsfactor)

    # Raw landing: every answer kept with the hash of its bytes, and loaded.
    raw = rows(
        engine,
        "select load_status, encode(sha256(body), 'hex') = content_hash as hash_matches "
        "from raw.vendor_response where duplicate_of is null",
    )
    assert raw and all(r["load_status"] == "loaded" and r["hash_matches"] for r in raw)
    assert scalar(
        engine, "select count(*) from raw.vendor_response where endpoint = 'campaign.get'"
    ) == len(nixflex)


def test_later_poll_records_changes_only(engine: Engine, simulator: SimulatorHandle) -> None:
    assert run_full_sync().success
    before = {
        (cid, r["phone"]): r["status"]
        for cid, doc in nixflex_campaigns(simulator.base_url).items()
        for r in doc["recipients"]
    }
    counters_before = smsfactor_campaigns(simulator.base_url)
    first_changes = scalar(engine, "select count(*) from sms.fact_recipient_status_change")
    first_sync_end = scalar(engine, "select max(observed_at) from sms.fact_recipient_status_change")

    simulator.clock.advance(timedelta(hours=2))
    after = {
        (cid, r["phone"]): r["status"]
        for cid, doc in nixflex_campaigns(simulator.base_url).items()
        for r in doc["recipients"]
    }
    moved = {k for k in after if k in before and after[k] != before[k]}
    new = set(after) - set(before)
    assert moved, "the simulator should move some recipients in two hours"

    assert run_full_sync().success
    later = rows(
        engine,
        "select campaign_id, phone, from_status, to_status "
        "from sms.fact_recipient_status_change where observed_at > :t",
        t=first_sync_end,
    )
    assert {(r["campaign_id"], r["phone"]) for r in later} == moved | new
    for r in later:
        key = (r["campaign_id"], r["phone"])
        assert (r["from_status"], r["to_status"]) == (before.get(key), after[key])
    assert scalar(engine, "select count(*) from sms.fact_recipient_status_change") == (
        first_changes + len(moved) + len(new)
    )
    statuses = {
        (r["campaign_id"], r["phone"]): r["status"]
        for r in rows(engine, "select campaign_id, phone, status from sms.fact_recipient_delivery")
    }
    assert statuses == after

    counters_after = smsfactor_campaigns(simulator.base_url)
    fields = (
        "status",
        "total",
        "delivered",
        "error",
        "expired",
        "network_error",
        "stop",
        "npai",
        "delivery_rate",
        "cost",
    )
    changed = {
        cid
        for cid, doc in counters_after.items()
        if cid not in counters_before or any(doc[f] != counters_before[cid][f] for f in fields)
    }
    assert scalar(engine, "select count(*) from sms.fact_campaign_counters") == (
        len(counters_before) + len(changed)
    )


def _snapshot(engine: Engine) -> dict[str, list[dict]]:
    out = {}
    for table, order in (
        ("sms.dim_campaign", "provider, campaign_id"),
        ("sms.fact_recipient_delivery", "campaign_id, phone"),
        ("sms.fact_recipient_status_change", "campaign_id, phone, observed_at"),
        ("sms.fact_campaign_counters", "campaign_id, observed_at"),
    ):
        data = rows(engine, f"select * from {table} order by {order}")
        if table == "sms.dim_campaign":  # polling moves last_polled_at, by design
            for r in data:
                r.pop("last_polled_at")
        out[table] = data
    return out


def test_same_sync_twice_adds_nothing(engine: Engine, simulator: SimulatorHandle) -> None:
    assert run_full_sync().success
    first = _snapshot(engine)
    assert run_full_sync().success
    assert _snapshot(engine) == first
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where load_status <> 'loaded'")
        == 0
    )


def test_miscounted_campaign_fails_the_count_check_naming_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = Simulator(
        seed=7, nixflex_campaigns=6, smsfactor_campaigns=2, clock=SimClock(start=T0), anchor=T0
    )
    # A campaign that has both delivered and failed recipients, so ±1 stays plausible.
    victim = probe.nixflex_campaign_ids()[-1]
    sim = Simulator(
        seed=7,
        nixflex_campaigns=6,
        smsfactor_campaigns=2,
        clock=SimClock(start=T0),
        anchor=T0,
        miscounted_nixflex=[victim],
    )
    with serve(sim) as base_url:
        monkeypatch.setenv("NIXFLEX_BASE_URL", f"{base_url}/nixflex/v1")
        monkeypatch.setenv("NIXFLEX_API_KEY", NIXFLEX_DEMO_KEY)
        monkeypatch.setenv("SMSFACTOR_BASE_URL", f"{base_url}/smsfactor")
        monkeypatch.setenv("SMSFACTOR_API_TOKEN", SMSFACTOR_DEMO_TOKEN)
        outcome = run_sync()
    failed = {c.name: c for c in outcome.checks if not c.passed}
    assert set(failed) == {"nixflex_counts_match_recipients"}
    assert failed["nixflex_counts_match_recipients"].campaigns == f"nixflex:{victim}"
    assert outcome.exit_code == 1  # what `make sync` exits with


def test_unset_vendor_is_not_polled_and_said_plainly(
    engine: Engine, simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NIXFLEX_API_KEY")
    result = run_full_sync()
    assert result.success
    check = checks_by_name(result)["nixflex_api_answered"]
    assert not check.passed and check.severity.value == "WARN"
    assert "NIXFLEX_API_KEY is not set" in (check.description or "")
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where provider = 'nixflex'") == 0
    )
    assert scalar(
        engine, "select count(*) from sms.dim_campaign where provider = 'smsfactor'"
    ) == len(simulator.sim.smsfactor_campaign_ids())


def test_refused_key_fails_its_check_without_leaking_it(
    engine: Engine,
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = "nxf_wrong:nxfs_do_not_print_me"
    monkeypatch.setenv("NIXFLEX_API_KEY", secret)
    result = run_full_sync()
    check = checks_by_name(result)["nixflex_api_answered"]
    assert not check.passed and check.severity.value == "ERROR"
    assert "refused" in (check.description or "")
    # The other vendor still loads, and the raw 401 answer is kept and quarantined.
    assert scalar(engine, "select count(*) from sms.dim_campaign where provider = 'smsfactor'") > 0
    assert (
        scalar(
            engine,
            "select count(*) from raw.quarantine where provider = 'nixflex' "
            "and kind = 'vendor_error'",
        )
        == 1
    )
    out, err = capfd.readouterr()
    assert "nxfs_do_not_print_me" not in out + err
    assert (
        scalar(
            engine,
            "select count(*) from raw.vendor_response "
            "where position('do_not_print_me'::bytea in coalesce(body, '')) > 0 "
            "or request_params::text like '%do_not_print_me%' "
            "or headers::text like '%do_not_print_me%'",
        )
        == 0
    )
