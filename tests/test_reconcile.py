"""``facts_match_latest_answer``: each campaign's facts equal the answer they came from.

The vendor's answers are read back from the simulator (what it served last), never from the
product's own parse, and the facts are damaged the way a faulty load or a manual fix would.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from pipelines.warehouse.reconcile import reconcile
from tests.conftest import SimulatorHandle
from tests.sync_helpers import checks_by_name, nixflex_campaigns, rows, run_full_sync


def _served_statuses(detail: dict) -> dict[str, int]:
    counted: dict[str, int] = {}
    seen: set[str] = set()
    for r in detail["recipients"]:
        if r["phone"] not in seen:
            seen.add(r["phone"])
            counted[r["status"]] = counted.get(r["status"], 0) + 1
    return counted


def test_after_a_sync_every_campaigns_facts_equal_its_latest_answer(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    result = run_full_sync()
    assert result.success
    check = checks_by_name(result)["facts_match_latest_answer"]
    assert check.passed, check.description
    campaigns = rows(engine, "select count(*) as n from sms.dim_campaign")[0]["n"]
    assert check.metadata["campaigns_compared"].value == campaigns > 0
    # The warehouse's recipients per status are the vendor's, recomputed here from what
    # the simulator serves.
    served = nixflex_campaigns(simulator.base_url)
    assert served
    for campaign_id, detail in served.items():
        held = rows(
            engine,
            "select status, count(*) as n from sms.fact_recipient_delivery "
            "where campaign_id = :c group by status",
            c=campaign_id,
        )
        assert {r["status"]: r["n"] for r in held} == _served_statuses(detail)


def test_a_recipient_or_counter_that_differs_from_the_answer_is_named(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    with engine.begin() as conn:
        nixflex = conn.execute(
            text(
                "update sms.recipient_delivery set status = 'queued' "
                "where (campaign_id, phone) = (select campaign_id, phone "
                "from sms.recipient_delivery where status <> 'queued' "
                "order by campaign_id, phone limit 1) returning campaign_id"
            )
        ).scalar_one()
        smsfactor = conn.execute(
            text(
                "update sms.fact_campaign_counters set npai = npai + 1 "
                "where (campaign_id, observed_at) = (select campaign_id, max(observed_at) "
                "from sms.fact_campaign_counters group by campaign_id "
                "order by campaign_id limit 1) returning campaign_id"
            )
        ).scalar_one()

    found = reconcile(engine, since=None, sample=1000)
    named = {(r["provider"], r["campaign_id"], r["field"]) for r in found.rows}
    assert named == {
        ("nixflex", nixflex, "recipients_by_status"),
        ("smsfactor", smsfactor, "npai"),
    }
    assert not found.sampled

    daily = checks_by_name(run_full_sync("full_checks"))["facts_match_latest_answer"]
    assert not daily.passed
    assert f"nixflex:{nixflex}" in str(daily.metadata["offending_campaigns"].value)


def test_a_sample_says_so(engine: Engine, simulator: SimulatorHandle) -> None:
    assert run_full_sync().success
    found = reconcile(engine, since=None, sample=3)
    assert found.compared == 3
    assert found.in_scope == rows(engine, "select count(*) as n from sms.dim_campaign")[0]["n"]
    assert found.sampled and not found.rows
