"""Discovery and re-checks that must end: a list page ``jsonb`` could not hold does not stop
discovery, and a campaign the vendor never calls final is not fetched every hour for ever.

The bound (docs/polling.md): a campaign that is not final settles anyway 72 hours (the
settle window) after its last change. Calls are counted at the simulator (each fault
counts the requests it matched), against the simulator's clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from pipelines.fetch import fetch_nixflex, fetch_smsfactor
from pipelines.polling.policy import PollingPolicy
from pipelines.simulator import (
    NIXFLEX_DEMO_KEY,
    SMSFACTOR_DEMO_TOKEN,
    Fault,
    Simulator,
)
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.warehouse.lanes import load_pending
from tests.sync_helpers import rows

pytestmark = pytest.mark.slow

BOUND = timedelta(hours=72)  # the settle window, counted from the last change
EVERY = timedelta(hours=6)
# Small pages; the whole list only on the first sync, so each later one reads the window.
POLICY = PollingPolicy(
    nixflex_page_size=5, smsfactor_page_size=5, full_pass_every=timedelta(days=30)
)
COUNTER = 10_000  # a fault's uses: far more than any test makes


def _poll(provider: str, base_url: str, engine: Engine) -> Any:
    with httpx.Client() as http:
        if provider == "nixflex":
            client = NixflexClient(
                http, api_key=NIXFLEX_DEMO_KEY, base_url=f"{base_url}/nixflex/v1"
            )
            report = fetch_nixflex(client, engine, policy=POLICY)
        else:
            client = SmsFactorClient(
                http, api_token=SMSFACTOR_DEMO_TOKEN, base_url=f"{base_url}/smsfactor"
            )
            report = fetch_smsfactor(client, engine, policy=POLICY)
    load_pending(engine)
    return report


def _served(sim: Simulator, fault: Fault) -> int:
    """How many requests ``fault`` (injected with COUNTER uses) has matched so far."""
    left = [f.times for f in sim.pending_faults() if f.path_contains == fault.path_contains]
    return COUNTER - (left[0] if left else 0)


def _gets_per_poll(sim: Simulator, base_url: str, engine: Engine, provider: str, fault: Fault):
    """Poll every 6 hours from T0 to T0 + 96 h; the GETs of the faulted campaign per poll,
    by hours since T0."""
    sim.inject(fault)
    calls: dict[int, int] = {}
    for step in range(17):
        before = _served(sim, fault)
        report = _poll(provider, base_url, engine)
        assert report.fatal is None
        calls[step * 6] = _served(sim, fault) - before
        sim.clock.advance(EVERY)
    return calls


def _expected(first_read_hours: int = 0) -> dict[int, int]:
    """One GET per poll while the campaign is unsettled: before its last change (its first
    read, at ``first_read_hours``) plus 72 h; none from then on."""
    last_change = first_read_hours
    return {
        h: (1 if h < last_change + BOUND.total_seconds() // 3600 else 0) for h in range(0, 97, 6)
    }


def test_a_nixflex_campaign_done_with_a_recipient_pending_for_ever_is_fetched_for_72h_only(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    simulator, base_url = account
    victim = simulator.nixflex_campaign_ids()[-1]  # the oldest: sent weeks ago

    def done_but_one_pending(doc: dict[str, Any]) -> dict[str, Any]:
        first, *rest = doc["recipients"]
        return {**doc, "status": "done", "recipients": [{**first, "status": "pending"}, *rest]}

    fault = Fault(
        "nixflex",
        "mutate",
        times=COUNTER,
        endpoint="get",
        path_contains=victim,
        mutate=done_but_one_pending,
    )
    calls = _gets_per_poll(simulator, base_url, engine, "nixflex", fault)
    assert calls == _expected()
    assert sum(calls.values()) == 12  # not 17: none after 72 h, however long it stays so
    state = rows(
        engine,
        "select is_final from sms.campaign_poll_state where campaign_id = :c",
        c=victim,
    )
    assert state == [{"is_final": False}]  # settled by the bound, never called final


def test_an_smsfactor_campaign_with_status_1_is_fetched_for_72h_only(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    simulator, base_url = account
    headers = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/json"}
    with httpx.Client(base_url=f"{base_url}/smsfactor", headers=headers) as http:
        history = http.get("/campaigns", params={"length": 1000}).json()["campaigns"]
    victim = min(history, key=lambda c: c["date"])["id"]  # sent weeks before the window

    def status_one(campaign: dict[str, object]) -> dict[str, object]:
        return {**campaign, "status": "1"} if campaign["id"] == victim else campaign

    simulator._smsfactor_account(SMSFACTOR_DEMO_TOKEN).served_as = status_one
    count = Fault(
        "smsfactor",
        "mutate",
        times=COUNTER,
        endpoint="get",
        path_contains=f"/campaign/{victim}",
        mutate=lambda doc: doc,  # served as it is: the fault only counts the calls
    )
    calls = _gets_per_poll(simulator, base_url, engine, "smsfactor", count)
    # The first sync reads the whole history (the campaign's row is its read, no GET); each
    # later one reads the window and fetches it directly, until 72 h after that first read.
    assert calls == {**_expected(), 0: 0}
    assert sum(calls.values()) == 11


def test_a_list_page_jsonb_cannot_hold_does_not_stop_discovery(
    engine: Engine, account: tuple[Simulator, str]
) -> None:
    simulator, base_url = account
    headers = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
    with httpx.Client(base_url=f"{base_url}/nixflex/v1", headers=headers) as http:
        listed = http.get("/sms/campaigns", params={"limit": 100}).json()["campaigns"]
    assert len(listed) > 3 * POLICY.nixflex_page_size  # discovery needs several pages

    def nul_in_a_name(doc: dict[str, Any]) -> dict[str, Any]:
        first, *rest = doc["campaigns"] or [{}]
        named = {**first, "name": f"{first.get('name')}\x00"}  # sent as "\u0000"
        return {**doc, "campaigns": [named, *rest] if doc["campaigns"] else []}

    simulator.inject(
        Fault("nixflex", "mutate", times=COUNTER, endpoint="list", mutate=nul_in_a_name)
    )
    report = _poll("nixflex", base_url, engine)
    assert report.problems == [] and report.fatal is None
    held = rows(engine, "select campaign_id from sms.dim_campaign where provider = 'nixflex'")
    assert {r["campaign_id"] for r in held} == {c["campaign_id"] for c in listed}
    pages = rows(
        engine,
        "select load_status, count(*) as n from raw.vendor_response "
        "where endpoint = 'campaigns.list' group by load_status",
    )
    assert [p["load_status"] for p in pages] == ["loaded"]
