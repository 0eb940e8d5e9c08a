"""Failure categories: sms.failure_category_map maps what each vendor reports to a
category, sms.failures_by_category counts failed messages per category, and the WARN check
failure_reasons_are_categorised lists the reasons nothing maps.

Expectations come from what the simulator serves over HTTP and the mapping restated here
(never read from the product's map), so a wrong row in the product cannot agree with itself.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import Engine, text

from pipelines.warehouse.checks import run_check
from pipelines.warehouse.loader import refresh_aggregates
from tests.conftest import SimulatorHandle
from tests.sync_helpers import (
    BUCKET,
    checks_by_name,
    nixflex_campaigns,
    rows,
    run_full_sync,
    smsfactor_campaigns,
)

pytestmark = pytest.mark.slow

CATEGORIES = {
    "invalid_number",
    "blocked_or_filtered",
    "carrier_or_network",
    "expired",
    "no_confirmation",
    "opted_out",
}
# What the simulator's Twilio messages mean (Twilio 30005, 30003, 30006, 30007).
BY_MESSAGE = {
    "Unknown handset": "invalid_number",
    "Unreachable handset": "invalid_number",
    "Landline or unreachable carrier": "invalid_number",
    "Message filtered": "blocked_or_filtered",
}
BY_COUNTER = {
    "error": "carrier_or_network",
    "expired": "expired",
    "network_error": "carrier_or_network",
}


def _nixflex_category(recipient: dict) -> str:
    if recipient["status"] == "sent":
        return "no_confirmation"
    return BY_MESSAGE.get(recipient.get("error_message") or "", "other")


def _by_category(engine: Engine, provider: str) -> Counter[str]:
    got = rows(
        engine,
        "select category, sum(messages)::bigint as messages from sms.failures_by_category "
        "where provider = :p group by category",
        p=provider,
    )
    return Counter({r["category"]: int(r["messages"]) for r in got})


def test_the_categories_add_up_to_the_failed_messages_the_vendors_serve(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    result = run_full_sync()
    assert result.success
    assert checks_by_name(result)["failure_reasons_are_categorised"].passed

    nixflex, by_day, failed = Counter(), Counter(), 0
    for doc in nixflex_campaigns(simulator.base_url).values():
        for r in doc["recipients"]:
            if BUCKET.get(r["status"]) != "failed":
                continue
            failed += 1
            nixflex[_nixflex_category(r)] += 1
            day = datetime.fromisoformat(r["sent_at"].replace("Z", "+00:00")).date()
            by_day[day] += 1
    assert failed > 0 and set(nixflex) > {"no_confirmation"}  # Twilio errors too
    assert _by_category(engine, "nixflex") == nixflex
    assert sum(_by_category(engine, "nixflex").values()) == failed
    nixflex_days = rows(
        engine,
        "select day, sum(messages)::bigint as messages from sms.failures_by_category "
        "where provider = 'nixflex' group by day",
    )
    assert Counter({r["day"]: int(r["messages"]) for r in nixflex_days}) == by_day

    smsfactor, failed = Counter(), 0
    for doc in smsfactor_campaigns(simulator.base_url).values():
        for counter, category in BY_COUNTER.items():
            if int(doc[counter]):
                smsfactor[category] += int(doc[counter])
        failed += int(doc["error"]) + int(doc["expired"]) + int(doc["network_error"])
    assert failed > 0
    assert _by_category(engine, "smsfactor") == smsfactor
    assert sum(smsfactor.values()) == failed

    # The same totals as sms.failure_reasons and sms.daily_delivery count as failed.
    per_provider = {
        r["provider"]: int(r["failed"])
        for r in rows(
            engine,
            "select provider, sum(failed)::bigint as failed from sms.daily_delivery "
            "group by provider",
        )
    }
    assert per_provider == {
        "nixflex": sum(nixflex.values()),
        "smsfactor": sum(smsfactor.values()),
    }


def test_an_unmapped_reason_counts_as_other_and_the_check_names_it(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    assert run_check(engine, "failure_reasons_are_categorised").rows == []
    before = _by_category(engine, "nixflex")
    picked = rows(
        engine,
        "select campaign_id, phone, error_message from sms.fact_recipient_delivery "
        "where status in ('failed', 'undelivered') and error_message is not null "
        "order by campaign_id, phone limit 3",
    )
    assert len(picked) == 3
    new_messages = (
        ("Carrier on strike", "other"),  # maps to nothing
        ("Twilio error 30004 from the carrier", "blocked_or_filtered"),  # by its code
        ("UNKNOWN HANDSET", "invalid_number"),  # by its text, whatever the case
    )
    expected = Counter(before)
    with engine.begin() as conn:
        for row, (message, category) in zip(picked, new_messages, strict=True):
            conn.execute(
                text(
                    "update sms.recipient_delivery set error_message = :m "
                    "where campaign_id = :c and phone = :p"
                ),
                {"m": message, "c": row["campaign_id"], "p": row["phone"]},
            )
            # As the loader does after writing a campaign's facts.
            refresh_aggregates(conn, "nixflex", str(row["campaign_id"]))
            expected[BY_MESSAGE[str(row["error_message"])]] -= 1
            expected[category] += 1
    assert _by_category(engine, "nixflex") == +expected
    assert _by_category(engine, "nixflex")["other"] == 1

    listed = run_check(engine, "failure_reasons_are_categorised").rows
    assert listed == [
        {
            "provider": "nixflex",
            "campaign_id": picked[0]["campaign_id"],
            "reason": "Carrier on strike",
            "messages": 1,
        }
    ]
    # Scoped like the other per-campaign checks: nothing loaded since now, nothing listed.
    later = datetime(2999, 1, 1).astimezone()
    assert run_check(engine, "failure_reasons_are_categorised", since=later).rows == []


def test_every_category_row_is_readable_as_an_analyst(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    assert run_full_sync().success
    with engine.connect() as conn:
        conn.execute(text("set role sms_analyst"))
        mapped = conn.execute(text("select * from sms.failure_category_map")).mappings().all()
        counted = conn.execute(text("select * from sms.failures_by_category")).mappings().all()
    assert {r["category"] for r in mapped} == CATEGORIES
    assert {r["provider"] for r in mapped} == {"nixflex", "smsfactor"}
    assert all(r["description"] for r in mapped)
    assert counted and {r["category"] for r in counted} <= CATEGORIES | {"other"}
    assert {r["provider"] for r in counted} == {"nixflex", "smsfactor"}
    assert not any("phone" in column for column in counted[0])
