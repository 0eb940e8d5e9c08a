"""Checks that cost what moved: after a sync, the per-campaign checks look only at the
campaigns that sync loaded; the daily ``full_checks`` job looks at everything."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from pipelines.alerts.settings import DETECTION_CHECKS
from pipelines.cli import run_sync
from pipelines.warehouse.checks import loaded_since, run_check
from tests.conftest import SimulatorHandle
from tests.sync_helpers import (
    assert_only_held_campaigns_are_stuck,
    checks_by_name,
    rows,
    run_full_sync,
    scalar,
)

SCOPED = {
    "nixflex_counts_match_recipients",
    "nixflex_recipient_status_is_documented",
    "nixflex_recipient_is_unique",
    "failure_reasons_are_categorised",
    "recipient_phone_names_a_country",
    "aggregates_match_facts",
    "smsfactor_counters_within_total",
    "smsfactor_delivery_rate_matches",
}


def _nixflex_ids(engine: Engine) -> set[str]:
    return {
        str(r["campaign_id"])
        for r in rows(engine, "select campaign_id from sms.dim_campaign where provider='nixflex'")
    }


def test_sync_checks_only_what_it_loaded_and_the_daily_check_everything(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    # Every Nixflex campaign's reported total goes wrong in the warehouse (as a bad manual
    # fix would do); a campaign the next sync loads again gets the vendor's figure back.
    with engine.begin() as conn:
        conn.execute(
            text(
                "update sms.dim_campaign set reported_total = reported_total + 1 "
                "where provider = 'nixflex'"
            )
        )
    simulator.clock.advance(timedelta(minutes=15))
    second = run_full_sync()
    assert second.success
    evaluations = checks_by_name(second)
    for name in SCOPED:
        assert str(evaluations[name].metadata["scope"].value).startswith("campaigns loaded since")
    counts = evaluations["nixflex_counts_match_recipients"]
    assert counts.passed  # the campaigns it looked at are right again

    since = datetime.fromisoformat(
        str(counts.metadata["scope"].value).split("since ")[1].split(" ")[0]
    )
    reloaded = {
        str(r["campaign_id"])
        for r in rows(
            engine,
            "select campaign_id from sms.campaign_poll_state "
            "where provider = 'nixflex' and last_loaded_at >= :since",
            since=since,
        )
    }
    untouched = _nixflex_ids(engine) - reloaded
    assert reloaded and untouched  # the test means something only if the sync was partial

    answers = scalar(engine, "select count(*) from raw.vendor_response")
    daily = run_sync("full_checks")
    by_name = {c.name: c for c in daily.checks}
    assert set(by_name) >= SCOPED  # every per-campaign check ran, over everything
    wrong = by_name["nixflex_counts_match_recipients"]
    assert not wrong.passed
    assert set(wrong.campaigns.split(", ")) == {f"nixflex:{c}" for c in untouched}
    assert daily.exit_code == 1  # what `make checks` exits with
    # The daily check fetches and loads nothing.
    assert scalar(engine, "select count(*) from raw.vendor_response") == answers


def test_a_run_of_checks_alone_looks_at_every_campaign(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    result = run_full_sync("full_checks")
    evaluations = checks_by_name(result)
    assert set(evaluations) >= SCOPED | {"raw_response_loaded_or_quarantined"}
    assert_only_held_campaigns_are_stuck(evaluations, simulator.base_url)
    for name, evaluation in evaluations.items():
        if name in DETECTION_CHECKS:  # they compare hours and read in-flight campaigns
            continue
        assert evaluation.metadata["scope"].value == "every campaign", name


def test_an_answer_another_run_landed_during_this_load_is_not_this_runs_failure(
    engine: Engine,
) -> None:
    """Two syncs at once: run B lands answers while run A loads. A's blocking check names
    only what A's load was due to read; the daily check names everything still pending."""
    land = text(
        "insert into raw.vendor_response (provider, endpoint, request_path, http_status, "
        "fetched_at, content_hash, body) values ('nixflex', 'campaign.list', '/campaigns', "
        "200, now(), :h, '\\x7b7d') returning response_id"
    )
    with engine.begin() as conn:
        due = conn.execute(land, {"h": "due"}).scalar_one()
    since = loaded_since(engine)
    with engine.begin() as conn:
        later = conn.execute(land, {"h": "later"}).scalar_one()
    name = "raw_response_loaded_or_quarantined"
    assert [r["response_id"] for r in run_check(engine, name, since).rows] == [due]
    assert {r["response_id"] for r in run_check(engine, name).rows} == {due, later}
