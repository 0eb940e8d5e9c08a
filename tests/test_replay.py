"""Replay from raw: the ``replay_from_raw`` job rebuilds every sms relation from the raw
landing alone (no vendor is called) and gives what the live path gave; scope
``quarantined`` applies a fixed parser to what was quarantined; a replay cut short is
finished by running it again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from pipelines.vendors import fields, nixflex_parse
from pipelines.warehouse import lanes, replay
from pipelines.warehouse.checks import run_check
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.loader import LoadOptions, load_answers
from tests.conftest import SimulatorHandle
from tests.sync_helpers import (
    assert_only_held_campaigns_are_stuck,
    checks_by_name,
    rows,
    run_full_sync,
    scalar,
)
from tests.test_loader import T, nixflex_detail, recipient

RELATIONS = (
    ("sms.dim_campaign", "provider, campaign_id"),
    ("sms.fact_recipient_delivery", "campaign_id, phone"),
    ("sms.fact_recipient_status_change", "campaign_id, phone, observed_at, to_status"),
    ("sms.fact_campaign_counters", "campaign_id, observed_at"),
    ("sms.campaign_delivery", "provider, campaign_id"),
    ("raw.quarantine", "response_id, kind, reason"),
)


def _warehouse(engine: Engine) -> dict[str, list[dict]]:
    """Every contract relation, and what was quarantined (without its own ids and times)."""
    out = {}
    for relation, order in RELATIONS:
        data = rows(engine, f"select * from {relation} order by {order}")
        for row in data:
            row.pop("quarantine_id", None)
            row.pop("quarantined_at", None)
        out[relation] = data
    return out


def _calls(simulator: SimulatorHandle) -> int:
    return sum(simulator.sim.calls.values())


@pytest.mark.slow
def test_replay_job_rebuilds_what_the_live_path_built_without_calling_a_vendor(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    simulator.clock.advance(timedelta(hours=2))  # recipients move: changes and snapshots
    assert run_full_sync().success
    live = _warehouse(engine)
    assert live["sms.fact_recipient_status_change"] and live["sms.fact_campaign_counters"]
    calls = _calls(simulator)

    result = run_full_sync("replay_from_raw")

    assert result.success
    assert _calls(simulator) == calls  # no vendor was asked anything
    assert _warehouse(engine) == live
    checks = checks_by_name(result)
    assert "raw_response_loaded_or_quarantined" in checks
    assert_only_held_campaigns_are_stuck(checks, simulator.base_url)
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where load_status = 'pending'")
        == 0
    )


def test_a_fixed_parser_is_applied_to_what_was_quarantined(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [recipient("+441", "delivered"), recipient("+442", "failed")]
    people[1]["sent_at"] = "20/11/2026 10:00"  # a time format the parser does not read
    land_now(engine, nixflex_detail("smsc_a", people, T))
    land_now(engine, nixflex_detail("smsc_b", [recipient("+443", "sent")], T))
    load_pending(engine)
    assert scalar(engine, "select count(*) from raw.quarantine") == 1
    untouched = rows(
        engine, "select * from sms.fact_recipient_delivery where campaign_id = 'smsc_b'"
    )

    # "The fix": the parser learns the day/month/year format.
    original = fields.utc_timestamp

    def fixed(item: dict, key: str):  # type: ignore[no-untyped-def]
        value = item.get(key)
        if isinstance(value, str) and value == "20/11/2026 10:00":
            return T.replace(hour=10)
        return original(item, key)

    monkeypatch.setattr(nixflex_parse.fields, "utc_timestamp", fixed)
    report = replay.replay(engine, replay.ReplayScope.QUARANTINED)

    assert report.answers_marked == 1  # only the answer with a quarantined item
    assert scalar(engine, "select count(*) from raw.quarantine") == 0
    facts = {r["phone"]: r for r in rows(engine, "select * from sms.fact_recipient_delivery")}
    assert set(facts) == {"+441", "+442", "+443"}
    assert facts["+442"]["sent_at"] == T.replace(hour=10)
    assert (
        rows(engine, "select * from sms.fact_recipient_delivery where campaign_id = 'smsc_b'")
        == untouched
    )


def test_a_replay_cut_short_leaves_answers_pending_and_a_second_one_finishes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        people = [recipient(f"+44{n}{k}", "sent") for k in range(3)]
        land_now(engine, nixflex_detail(f"smsc_{n}", people, T))
        moved = [{**p, "status": "delivered"} for p in people]
        land_now(engine, nixflex_detail(f"smsc_{n}", moved, T + timedelta(hours=1)))
    load_pending(engine)
    before = _warehouse(engine)

    done: list[int] = []

    def dies_after_three(engine: Engine, lane: list[int], options: LoadOptions):  # type: ignore[no-untyped-def]
        if len(done) == 3:
            raise ConnectionError("the warehouse went away")
        done.append(1)
        return load_answers(engine, lane, options)

    monkeypatch.setattr(lanes, "load_answers", dies_after_three)
    with pytest.raises(ConnectionError):
        replay.replay(engine)
    pending = run_check(engine, "raw_response_loaded_or_quarantined")
    # 4 campaigns, one lane of 2 answers each: 3 lanes loaded, the last one left pending.
    assert not pending.passed and len(pending.rows) == 2
    monkeypatch.undo()

    replay.replay(engine)
    assert _warehouse(engine) == before
