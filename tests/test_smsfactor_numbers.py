"""SMSFactor's numbers as its answers spell them: every number is a string, and a French
locale prints ``cost`` and ``delivery_rate`` with a decimal comma and thousands grouped by
spaces (plain, no-break U+00A0, narrow no-break U+202F). Those are read as numbers; an
optional number that still cannot be read (``"N/A"``, ``"-"``) is loaded as NULL with a
note naming the field and the value, and never costs the campaign its counters. Counters
stay strict (docs/vendors.md): thousands spaces are read, a decimal separator is refused.

Expected values are built here from the digits drawn, never by the product's reader.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from pipelines.simulator import SMSFACTOR_DEMO_TOKEN
from pipelines.simulator.smsfactor import to_xml
from pipelines.vendors import records
from pipelines.vendors.smsfactor_parse import decode, parse_campaigns
from tests.conftest import T0, SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, smsfactor_campaigns, smsfactor_expected

SPACES = (" ", "\u00a0", "\u202f")
NARROW_NBSP = "\u202f"

CAMPAIGN: dict[str, Any] = {
    "id": "18969398",
    "sender": "Shop",
    "text": "Hello",
    "creation_date": "2024-03-04 10:00:00",
    "date": "2024-03-04 10:05:00",
    "cost": "1.087",
    "lists": [{"id": "a1"}],
    "status": "Sent",
    "delivery_rate": "97.50",
    "delivered": "1170",
    "error": "10",
    "expired": "5",
    "network_error": "3",
    "stop": "2",
    "npai": "12",
    "total": "1200",
}
COUNTERS = ("delivered", "error", "expired", "network_error", "stop", "npai", "total")


def _answer(campaign: dict[str, Any], xml: bool) -> bytes:
    doc = {"status": 1, "message": "OK", "campaign": [campaign]}
    return to_xml(doc) if xml else json.dumps(doc).encode()


def _grouped(digits: str, space: str) -> str:
    """``digits`` grouped by three from the right with ``space``."""
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return space.join(groups)


@st.composite
def spelled_numbers(draw: st.DrawFn) -> tuple[str, Decimal]:
    """(a number as some locale writes it, its value built from the digits drawn)."""
    whole = str(draw(st.integers(0, 10**12)))
    fraction = draw(st.text("0123456789", max_size=5))
    sign = draw(st.sampled_from(["", "-"]))
    space = draw(st.sampled_from(["", *SPACES]))
    mark = draw(st.sampled_from([",", "."]))
    spelled = sign + (_grouped(whole, space) if space else whole)
    if fraction:
        spelled += mark + fraction
    padding = draw(st.sampled_from(["", " ", "\u00a0"]))
    return padding + spelled + padding, Decimal(f"{sign}{whole}.{fraction or '0'}")


# What no reader can take for a number: words (no digit at all), dashes, and separators
# that contradict each other.
UNREADABLE = st.one_of(
    st.sampled_from(["N/A", "n/a", "-", "--", "\u2014", "NaN", "Infinity", "1,234.5", "1.234,5"]),
    st.sampled_from(["12 34", "1 2345", "0,6,5", "€0,65", "0,65 €", "1e999999"]),
    st.text(st.characters(whitelist_categories=("Lu", "Ll")), min_size=1, max_size=12),
)
FORMATS = st.booleans()  # XML (the API's default) or JSON


@settings(deadline=None, max_examples=300)
@given(spelled_numbers(), spelled_numbers(), FORMATS)
def test_cost_and_delivery_rate_are_read_with_a_decimal_comma_and_thousands_spaces(
    cost: tuple[str, Decimal], rate: tuple[str, Decimal], xml: bool
) -> None:
    batch = parse_campaigns(
        decode(_answer({**CAMPAIGN, "cost": cost[0], "delivery_rate": rate[0]}, xml))
    )
    (campaign,) = batch.items
    assert (campaign.cost, campaign.delivery_rate) == (cost[1], rate[1])
    assert batch.rejected == [] and batch.notes == []
    assert campaign.total == 1200 and campaign.delivered == 1170


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["cost", "delivery_rate"]), UNREADABLE, FORMATS)
def test_an_unreadable_optional_number_is_null_and_noted_and_the_campaign_loads(
    key: str, value: str, xml: bool
) -> None:
    batch = parse_campaigns(decode(_answer({**CAMPAIGN, key: value}, xml)))
    (campaign,) = batch.items  # the campaign is kept, not rejected
    assert batch.rejected == []
    assert getattr(campaign, key) is None
    other = "delivery_rate" if key == "cost" else "cost"
    assert getattr(campaign, other) == Decimal(CAMPAIGN[other])
    assert [int(CAMPAIGN[c]) for c in COUNTERS] == [getattr(campaign, c) for c in COUNTERS]
    (note,) = batch.notes
    assert note.kind == records.UNREADABLE_FIELD and note.campaign_id == CAMPAIGN["id"]
    assert note.item["field"] == key and key in note.reason
    # XML trims what surrounds a text; what was noted is what the answer held.
    assert note.item["value"] == (value.strip() if xml else value)


@pytest.mark.parametrize("blank", ["", " ", "\u00a0"])
@pytest.mark.parametrize("xml", [False, True])
def test_an_empty_optional_number_is_null_without_a_note(blank: str, xml: bool) -> None:
    batch = parse_campaigns(
        decode(_answer({**CAMPAIGN, "cost": blank, "delivery_rate": blank}, xml))
    )
    (campaign,) = batch.items
    assert campaign.cost is None and campaign.delivery_rate is None
    assert batch.notes == [] and batch.rejected == []


@settings(deadline=None, max_examples=200)
@given(st.sampled_from(COUNTERS), st.integers(1000, 2**31 - 1), st.sampled_from(SPACES), FORMATS)
def test_a_counter_grouped_by_thousands_spaces_is_read(
    key: str, value: int, space: str, xml: bool
) -> None:
    spelled = _grouped(str(value), space)
    (campaign,) = parse_campaigns(decode(_answer({**CAMPAIGN, key: spelled}, xml))).items
    assert getattr(campaign, key) == value


@settings(deadline=None, max_examples=200)
@given(
    st.sampled_from(COUNTERS),
    st.one_of(
        st.sampled_from(["", "N/A", "-", "1,5", "1.5", "1,234", "12 34", "1 234,0"]),
        st.builds(lambda n, m: f"{n}{m}0", st.integers(0, 9999), st.sampled_from([",", "."])),
    ),
    FORMATS,
)
def test_a_counter_that_is_not_a_whole_count_refuses_the_campaign(
    key: str, value: str, xml: bool
) -> None:
    batch = parse_campaigns(decode(_answer({**CAMPAIGN, key: value}, xml)))
    assert batch.items == []
    (refused,) = batch.rejected
    assert refused.kind == records.INVALID_ITEM and key in refused.reason


# --- end to end: the simulator spells its numbers as a French locale does --------------------


def _french(number: str) -> str:
    """A number the simulator writes as ``1234.5`` as a French locale prints it:
    ``1 234,5`` with narrow no-break spaces."""
    whole, _, fraction = number.partition(".")
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    return sign + _grouped(digits, NARROW_NBSP) + ("," + fraction if fraction else "")


def test_french_numbers_and_an_unreadable_rate_keep_every_smsfactor_campaign_loading(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    sim = simulator.sim
    # A campaign of 5,000 messages sending now: its cost runs into thousands ("4 969").
    sending = sim.add_smsfactor_campaign(5000, T0 - timedelta(minutes=10))
    truth = smsfactor_campaigns(simulator.base_url)  # as the simulator writes them
    no_rate = sorted(truth)[0]

    def as_a_french_locale(campaign: dict[str, object]) -> dict[str, object]:
        served = {**campaign, "cost": _french(str(campaign["cost"]))}
        rate = "N/A" if campaign["id"] == no_rate else _french(str(campaign["delivery_rate"]))
        return {**served, "delivery_rate": rate}

    sim._smsfactor_account(SMSFACTOR_DEMO_TOKEN).served_as = as_a_french_locale
    served = smsfactor_campaigns(simulator.base_url)
    assert NARROW_NBSP in str(served[sending]["cost"])  # thousands
    assert any("," in str(c["cost"]) + str(c["delivery_rate"]) for c in served.values())
    assert run_full_sync().success

    # Every campaign reached the marts with its counters, and its cost as the number it is.
    mart = {
        r["campaign_id"]: r
        for r in rows(engine, "select * from sms.campaign_delivery where provider = 'smsfactor'")
    }
    assert set(mart) == set(truth)
    for cid, doc in truth.items():
        row = mart[cid]
        got = (row["total"], row["delivered"], row["failed"], row["pending"], row["unknown"])
        assert got == smsfactor_expected(doc), cid
    cost = {
        r["campaign_id"]: r["cost"]
        for r in rows(
            engine, "select campaign_id, cost from sms.dim_campaign where provider = 'smsfactor'"
        )
    }
    assert cost == {cid: Decimal(str(doc["cost"])) for cid, doc in truth.items()}
    rates = {
        r["campaign_id"]: r["delivery_rate"]
        for r in rows(engine, "select campaign_id, delivery_rate from sms.fact_campaign_counters")
    }
    assert rates == {
        cid: None if cid == no_rate else Decimal(str(doc["delivery_rate"]))
        for cid, doc in truth.items()
    }
    notes = rows(engine, "select campaign_id, kind, item from raw.quarantine")
    assert notes == [
        {
            "campaign_id": no_rate,
            "kind": "unreadable_field",
            "item": {"field": "delivery_rate", "value": "N/A"},
        }
    ]

    # An hour on, the sending campaign's counters moved and the warehouse follows them.
    simulator.clock.advance(timedelta(hours=1))
    later = smsfactor_campaigns(simulator.base_url)
    assert later[sending]["delivered"] != truth[sending]["delivered"]
    assert run_full_sync().success
    latest = rows(
        engine,
        "select distinct on (campaign_id) delivered, status from sms.fact_campaign_counters "
        "where campaign_id = :c order by campaign_id, observed_at desc",
        c=sending,
    )
    assert latest == [
        {"delivered": int(later[sending]["delivered"]), "status": later[sending]["status"]}
    ]
