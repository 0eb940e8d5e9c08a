"""The opt-out and cost marts (sms.campaign_opt_outs, sms.daily_opt_outs, sms.campaign_cost,
sms.daily_cost) after a simulator sync: every number recomputed here from what the simulator
serves over HTTP, by the vendors' documented fields, never copied from the views."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from pipelines.warehouse.loader import refresh_aggregates
from tests.conftest import SimulatorHandle
from tests.sync_helpers import (
    nixflex_campaigns,
    nixflex_expected,
    rows,
    run_full_sync,
    smsfactor_campaigns,
)
from tests.test_analysts import _queries

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")
EXACT = Decimal("1e-15")  # the views' numeric division carries at least 16 decimals
VIEWS = ("sms.campaign_opt_outs", "sms.daily_opt_outs", "sms.campaign_cost", "sms.daily_cost")


def _number(value: str) -> Decimal:
    """An SMSFactor number as a French locale may print it (the simulator prints a dot)."""
    return Decimal(value.replace("\u00a0", "").replace(" ", "").replace(",", "."))


def _ratio(numerator: Decimal | int | None, denominator: Decimal | int) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def _close(actual: Any, expected: Decimal | None) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    return abs(Decimal(actual) - expected) <= EXACT


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


@pytest.fixture
def served(engine: Engine, simulator: SimulatorHandle) -> dict[str, dict[str, dict]]:
    assert run_full_sync().success
    return {
        "smsfactor": smsfactor_campaigns(simulator.base_url),
        "nixflex": nixflex_campaigns(simulator.base_url),
    }


def test_opt_outs_and_cost_per_campaign_are_what_smsfactor_serves(
    engine: Engine, served: dict[str, dict[str, dict]]
) -> None:
    smsfactor = served["smsfactor"]
    opt_outs = {r["campaign_id"]: r for r in rows(engine, "select * from sms.campaign_opt_outs")}
    cost = {
        (r["provider"], r["campaign_id"]): r
        for r in rows(engine, "select * from sms.campaign_cost")
    }
    assert set(opt_outs) == set(smsfactor)
    assert set(cost) == {("smsfactor", c) for c in smsfactor} | {
        ("nixflex", c) for c in served["nixflex"]
    }
    for cid, doc in smsfactor.items():
        total, stop, npai, delivered = (int(doc[k]) for k in ("total", "stop", "npai", "delivered"))
        row = opt_outs[cid]
        assert (row["provider"], row["sender"]) == ("smsfactor", doc["sender"]), cid
        assert (row["total"], row["stop"], row["npai"]) == (total, stop, npai), cid
        assert _close(row["stop_rate"], _ratio(stop, total)), cid
        assert _close(row["npai_rate"], _ratio(npai, total)), cid

        spent = _number(doc["cost"]) if doc["cost"] else None
        row = cost[("smsfactor", cid)]
        assert row["delivered"] == delivered, cid
        assert _close(row["cost_credits"], spent), cid
        assert _close(row["cost_credits_per_delivered"], _ratio(spent, delivered)), cid
    assert any(r["stop"] for r in opt_outs.values()), "the simulator serves some STOP replies"
    assert any(r["cost_credits_per_delivered"] for r in cost.values())


def test_nixflex_reports_no_cost(engine: Engine, served: dict[str, dict[str, dict]]) -> None:
    nixflex = {
        r["campaign_id"]: r
        for r in rows(engine, "select * from sms.campaign_cost where provider = 'nixflex'")
    }
    assert set(nixflex) == set(served["nixflex"])
    for cid, detail in served["nixflex"].items():
        row = nixflex[cid]
        assert row["cost_credits"] is None and row["cost_credits_per_delivered"] is None
        assert row["delivered"] == nixflex_expected(detail)[1], cid
    daily = rows(engine, "select * from sms.daily_cost where provider = 'nixflex'")
    assert daily and all(
        r["cost_credits"] is None
        and r["cost_credits_per_delivered"] is None
        and r["campaigns_with_cost"] == 0
        for r in daily
    )
    assert rows(engine, "select * from sms.campaign_opt_outs where provider = 'nixflex'") == []


def test_each_day_sums_the_campaigns_of_that_utc_day(
    engine: Engine, served: dict[str, dict[str, dict]]
) -> None:
    dim = {
        (r["provider"], r["campaign_id"]): r
        for r in rows(engine, "select provider, campaign_id, account, sender from sms.dim_campaign")
    }
    opt_outs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    cost: dict[tuple, list[Any]] = defaultdict(lambda: [0, None, 0])
    for cid, doc in served["smsfactor"].items():
        # The send date is Paris wall-clock time (docs/vendors.md); the day is its UTC day.
        sent = datetime.strptime(doc["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=PARIS)
        key = (_utc_day(sent), "smsfactor", dim[("smsfactor", cid)]["account"], doc["sender"])
        sums = opt_outs[key]
        for i, name in enumerate(("total", "stop", "npai")):
            sums[i + 1] += int(doc[name])
        sums[0] += 1
        spent = cost[key]
        spent[0] += 1
        if doc["cost"]:
            spent[1] = (spent[1] or Decimal(0)) + _number(doc["cost"])
        spent[2] += int(doc["delivered"])
    for cid, detail in served["nixflex"].items():
        when = [r["sent_at"] for r in detail["recipients"] if r.get("sent_at")]
        moment = min(when) if when else detail.get("scheduled_at") or detail["created_at"]
        day = _utc_day(datetime.fromisoformat(moment.replace("Z", "+00:00")))
        key = (day, "nixflex", dim[("nixflex", cid)]["account"], detail["from_number"])
        cost[key][0] += 1
        cost[key][2] += nixflex_expected(detail)[1]

    daily = {
        (r["day"], r["provider"], r["account"], r["sender"]): r
        for r in rows(engine, "select * from sms.daily_opt_outs")
    }
    assert set(daily) == set(opt_outs)
    for key, (campaigns, total, stop, npai) in opt_outs.items():
        row = daily[key]
        assert (row["campaigns"], row["total"], row["stop"], row["npai"]) == (
            campaigns,
            total,
            stop,
            npai,
        ), key
        assert _close(row["stop_rate"], _ratio(stop, total)), key
        assert _close(row["npai_rate"], _ratio(npai, total)), key

    daily = {
        (r["day"], r["provider"], r["account"], r["sender"]): r
        for r in rows(engine, "select * from sms.daily_cost")
    }
    assert set(daily) == set(cost)
    for key, (campaigns, spent, delivered) in cost.items():
        row = daily[key]
        assert (row["campaigns"], row["delivered"]) == (campaigns, delivered), key
        assert _close(row["cost_credits"], spent), key
        assert _close(row["cost_credits_per_delivered"], _ratio(spent, delivered)), key


def test_a_campaign_with_no_messages_has_no_rates(
    engine: Engine, served: dict[str, dict[str, dict]]
) -> None:
    cid = sorted(served["smsfactor"])[0]
    with engine.begin() as conn:  # its latest snapshot now says nothing was sent
        conn.execute(
            text(
                "update sms.fact_campaign_counters set total = 0, delivered = 0, error = 0, "
                "expired = 0, network_error = 0, stop = 0, npai = 0 "
                "where campaign_id = :c and observed_at = "
                "(select max(observed_at) from sms.fact_campaign_counters where campaign_id = :c)"
            ),
            {"c": cid},
        )
        refresh_aggregates(conn, "smsfactor", cid)  # as the loader does after new counters
    row = rows(engine, "select * from sms.campaign_opt_outs where campaign_id = :c", c=cid)[0]
    assert (row["total"], row["stop_rate"], row["npai_rate"]) == (0, None, None)
    row = rows(
        engine,
        "select * from sms.campaign_cost where provider = 'smsfactor' and campaign_id = :c",
        c=cid,
    )[0]
    assert (row["delivered"], row["cost_credits_per_delivered"]) == (0, None)


def test_the_analyst_reads_them(engine: Engine, served: dict[str, dict[str, dict]]) -> None:
    with engine.connect() as conn:
        conn.execute(text("set role sms_analyst"))
        for view in VIEWS:
            assert conn.execute(text(f"select * from {view}")).all(), view
        # The guide's queries over these views (docs/analysts.md, run as written by
        # test_analysts) each answer something on a freshly synced warehouse.
        documented = [q for q in _queries() if any(view in q for view in VIEWS)]
        assert len(documented) >= 4
        for sql in documented:
            assert conn.execute(text(sql)).all(), sql
