"""The delivery-drop rule on simulated steady traffic (bench/detection.py's scenario, shorter).

Two days of baseline, one steady day judged by the rule, then one day on which one Nixflex
sender's campaigns deliver 30 points fewer of their messages, synced hour by hour into an
empty warehouse. A user of the WARN check would notice: an alert on a normal day, a drop
that is not flagged as soon as the warehouse holds enough of the dropped campaign's
outcomes, an alert that does not say why (carrier filtering), or another sender flagged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from bench.detection import Scenario, run_scenario, table_text
from pipelines.simulator.rhythm import RhythmCampaign, add_daily_rhythm
from pipelines.simulator.server import Simulator
from pipelines.warehouse.detection import DetectionSettings
from tests.conftest import embedded_only

SETTINGS = DetectionSettings(baseline_days=2)
STEADY_DAYS = 1
SYNC_EVERY = timedelta(hours=1)
HOUR = timedelta(hours=1)
# Every outcome of a rhythm campaign but its stragglers is in by an hour after its creation:
# a Nixflex campaign of 300 leaves in under 8 min and 99 % of its receipts follow within
# 30 min; an SMSFactor campaign of 600 leaves in under 30 s and settles within 40 min.
SETTLES_WITHIN = timedelta(hours=1)


def _hour(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def judged_at_least(scenario: Scenario, settings: DetectionSettings) -> int:
    """(segment, sync) pairs of the steady period whose window holds all but the stragglers
    of one of the segment's campaigns (well over ``min_messages``), as the same hours of the
    day before do: each is judged, whatever else is in the window."""
    start = datetime.fromisoformat(scenario.start)
    steady_from = start + scenario.baseline_days * timedelta(days=1)
    drop_start = datetime.fromisoformat(scenario.drop_start)
    # The same rhythm, laid out again on a simulator of its own.
    rhythm: list[RhythmCampaign] = add_daily_rhythm(
        Simulator(seed=scenario.seed, nixflex_campaigns=0, smsfactor_campaigns=0, anchor=start),
        start,
        scenario.baseline_days + scenario.steady_days + 1,
        every_hours=scenario.every_hours,
        nixflex_size=scenario.nixflex_size,
        smsfactor_size=scenario.smsfactor_size,
    )
    assert min(scenario.nixflex_size, scenario.smsfactor_size) * 0.8 > settings.min_messages
    syncs = []
    sync = start + SYNC_EVERY
    while sync < drop_start:
        if sync >= steady_from:
            syncs.append(sync)
        sync += SYNC_EVERY
    pairs = set()
    for campaign in rhythm:
        if campaign.created_at - timedelta(days=1) < start:
            continue  # no baseline day before it
        settled = campaign.created_at + SETTLES_WITHIN
        for sync in syncs:
            first_hour = _hour(sync) - (settings.window_hours - 1) * HOUR
            if sync >= settled and first_hour <= _hour(campaign.created_at):
                pairs.add((campaign.provider, campaign.sender, sync))
    return len(pairs)


@pytest.mark.slow
def test_steady_traffic_raises_no_alert_and_a_drop_is_flagged_when_its_outcomes_are_in(
    request: pytest.FixtureRequest,
    engine: Engine,
) -> None:
    embedded_only(request, "the rule's SQL runs on both backends in test_time_zones")
    scenario = run_scenario(
        engine, steady_days=STEADY_DAYS, sync_every=SYNC_EVERY, settings=SETTINGS, progress=print
    )
    print(table_text(scenario))
    for sync in scenario.drop_syncs:
        row = sync["row"] or {}
        print(
            f"  {sync['as_of']}: {sync['loaded_under_drop']} outcomes under the drop loaded; "
            f"dropped sender {row.get('delivery_rate')} of {row.get('messages')} vs "
            f"{row.get('baseline_rate')} of {row.get('baseline_messages')}, "
            f"flagged {row.get('flagged')}"
        )
    expected_judged = judged_at_least(scenario, SETTINGS)
    print(f"steady: {scenario.steady_judged} judged, at least {expected_judged} expected")

    # Steady traffic: no alert, while the rule had volume to judge.
    assert scenario.steady_flagged == []
    assert scenario.steady_judged >= expected_judged > 0

    # The drop: flagged after the first sync at whose end the warehouse holds at least
    # min_messages outcomes (delivered + failed, in hours up to the sync's) of the dropped
    # sender's campaigns sent under the drop; never before, and nobody else.
    assert scenario.dropped_flagged_early == []
    assert scenario.first_loaded_enough_at is not None
    assert scenario.flagged_at == scenario.first_loaded_enough_at
    flagged = scenario.flagged_row
    assert flagged is not None and flagged["sender"] == scenario.dropped_sender
    assert flagged["drop_percent"] > SETTINGS.drop_percent
    # It says why: carrier filtering ("30007: Message filtered") grew the most.
    grown = flagged["grown_categories"]
    growth = {name: s["percent_now"] - s["percent_baseline"] for name, s in grown.items()}
    assert max(growth, key=growth.__getitem__) == "blocked_or_filtered"
    assert scenario.other_flagged == []
    assert scenario.fetch_problems == []
