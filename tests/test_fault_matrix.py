"""The fault matrix: each vendor fault, injected into the simulator over real HTTP, through a
real full sync (the Dagster job) into a real Postgres. The promise each row checks: every
answer fetched is loaded or quarantined with its reason, the rest of the sync goes on, and
nothing is lost (a transient fault costs a retry, a lasting one a quarantine the checks
name). The warehouse's own faults (down at start, killed mid-load, two syncs at once) are in
tests/test_warehouse_faults.py; the same sync twice in tests/test_end_to_end.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from pipelines.simulator import SMSFACTOR_DEMO_TOKEN, Fault
from tests.conftest import SimulatorHandle
from tests.sync_helpers import (
    BUCKET,
    checks_by_name,
    nixflex_campaigns,
    rows,
    run_full_sync,
    scalar,
)

pytestmark = pytest.mark.slow


def _everything_loaded(engine: Engine, expected: dict[str, dict]) -> None:
    """The warehouse holds every campaign and recipient the vendor serves, counted right,
    and no answer is left pending."""
    facts = rows(engine, "select campaign_id, phone, status from sms.fact_recipient_delivery")
    assert {(r["campaign_id"], r["phone"]) for r in facts} == {
        (cid, p["phone"]) for cid, doc in expected.items() for p in doc["recipients"]
    }
    pending = "select count(*) from raw.vendor_response where load_status = 'pending'"
    assert scalar(engine, pending) == 0


def _quarantined(engine: Engine) -> list[tuple[str | None, str]]:
    found = rows(engine, "select campaign_id, kind from raw.quarantine order by quarantine_id")
    return [(q["campaign_id"], q["kind"]) for q in found]


@pytest.fixture
def served(simulator: SimulatorHandle) -> dict[str, dict]:
    """What the vendor serves (read before any fault is injected)."""
    return nixflex_campaigns(simulator.base_url)


def _victim(simulator: SimulatorHandle) -> str:
    return simulator.sim.nixflex_campaign_ids()[0]


# --- transient faults: retried, nothing lost ----------------------------------------------


def test_a_429_storm_is_waited_out(
    engine: Engine, simulator: SimulatorHandle, served: dict[str, dict]
) -> None:
    simulator.sim.inject(Fault("nixflex", "status", status=429, times=3, endpoint="get"))
    result = run_full_sync()
    assert result.success
    assert checks_by_name(result)["nixflex_api_answered"].passed
    assert simulator.sim.pending_faults() == []  # all three were served, and waited out
    _everything_loaded(engine, served)
    assert _quarantined(engine) == []


def test_bursts_of_500_502_503_are_retried(
    engine: Engine, simulator: SimulatorHandle, served: dict[str, dict]
) -> None:
    simulator.sim.inject(
        Fault("nixflex", "status", status=500, endpoint="get"),
        Fault("nixflex", "status", status=502, endpoint="get"),
        Fault("nixflex", "status", status=503, endpoint="list"),
        Fault("smsfactor", "status", status=502, times=2),  # an HTML gateway page
    )
    result = run_full_sync()
    assert result.success
    checks = checks_by_name(result)
    assert checks["nixflex_api_answered"].passed and checks["smsfactor_api_answered"].passed
    assert simulator.sim.pending_faults() == []
    _everything_loaded(engine, served)
    assert scalar(engine, "select count(*) from sms.dim_campaign where provider = 'smsfactor'") == (
        len(simulator.sim.smsfactor_campaign_ids())
    )


def test_a_read_timeout_is_retried(
    engine: Engine,
    simulator: SimulatorHandle,
    served: dict[str, dict],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The product's 30 s read timeout, shortened so that the test does not wait for it.
    monkeypatch.setattr("pipelines.defs.resources.DEFAULT_TIMEOUT", httpx.Timeout(1.0))
    victim = _victim(simulator)
    simulator.sim.inject(Fault("nixflex", "delay", seconds=2.5, path_contains=victim))
    result = run_full_sync()
    assert result.success and checks_by_name(result)["nixflex_api_answered"].passed
    _everything_loaded(engine, served)


def test_a_connection_reset_is_retried(
    engine: Engine, simulator: SimulatorHandle, served: dict[str, dict]
) -> None:
    simulator.sim.inject(Fault("nixflex", "reset", times=2, endpoint="get"))
    result = run_full_sync()
    assert result.success and checks_by_name(result)["nixflex_api_answered"].passed
    assert simulator.sim.pending_faults() == []
    _everything_loaded(engine, served)


# --- answers that cannot be read: kept raw, quarantined, fetched again ---------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("nixflex", "truncate", keep_bytes=300, endpoint="get"),
        Fault("nixflex", "replace", body=b'{"campaign_id": "x", "recipients": [}', endpoint="get"),
    ],
    ids=["truncated body", "malformed JSON"],
)
def test_an_unreadable_answer_is_kept_quarantined_and_fetched_again(
    engine: Engine, simulator: SimulatorHandle, served: dict[str, dict], fault: Fault
) -> None:
    victim = _victim(simulator)
    simulator.sim.inject(Fault(**{**fault.__dict__, "path_contains": victim}))
    result = run_full_sync()
    assert result.success
    assert _quarantined(engine) == [(victim, "unreadable_body")]
    kept = scalar(
        engine,
        "select octet_length(body) from raw.vendor_response "
        "where campaign_id = :c and load_status = 'quarantined'",
        c=victim,
    )
    assert kept == (300 if fault.kind == "truncate" else len(fault.body or b""))
    checks = checks_by_name(result)
    assert checks["raw_response_loaded_or_quarantined"].passed
    assert not checks["no_quarantine_in_last_day"].passed  # a WARN naming the campaign
    assert f"nixflex:{victim}" in str(checks["no_quarantine_in_last_day"].metadata)
    others = {cid: doc for cid, doc in served.items() if cid != victim}
    held = {r["campaign_id"] for r in rows(engine, "select campaign_id from sms.dim_campaign")}
    assert set(others) <= held and victim not in held

    # The next sync fetches the campaign again (its summary did not change) and loads it.
    assert run_full_sync().success
    _everything_loaded(engine, served)


def test_an_error_inside_http_200_is_retried_when_transient_and_quarantined_when_not(
    engine: Engine, simulator: SimulatorHandle, served: dict[str, dict]
) -> None:
    # SMSFactor: -99 "unknown error" may pass (retried); -7 "data error" will not.
    unknown = json.dumps({"status": -99, "message": "Unknown error"}).encode()
    simulator.sim.inject(Fault("smsfactor", "replace", body=unknown, endpoint="history"))
    first = run_full_sync()
    assert first.success and checks_by_name(first)["smsfactor_api_answered"].passed
    assert simulator.sim.pending_faults() == []
    assert _quarantined(engine) == []

    data_error = json.dumps({"status": -7, "message": "Data error", "details": "bad start"})
    simulator.sim.inject(Fault("smsfactor", "replace", body=data_error.encode(), times=5))
    second = run_full_sync()
    check = checks_by_name(second)["smsfactor_api_answered"]
    assert not check.passed and "Data error" in (check.description or "")
    found = rows(engine, "select provider, kind, reason from raw.quarantine")
    assert [(q["provider"], q["kind"]) for q in found] == [("smsfactor", "vendor_error")]
    assert "-7" in found[0]["reason"]
    _everything_loaded(engine, served)  # Nixflex is not held back


def test_an_xml_answer_to_a_json_request_is_read(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    # What SMSFactor answers without an Accept header: its history in XML.
    headers = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}"}
    with httpx.Client(base_url=simulator.base_url) as http:
        xml = http.get("/smsfactor/campaigns", params={"length": 1000}, headers=headers)
    assert xml.text.lstrip().startswith("<")
    simulator.sim.inject(
        Fault("smsfactor", "replace", body=xml.content, content_type="application/xml")
    )
    result = run_full_sync()
    assert result.success and checks_by_name(result)["smsfactor_api_answered"].passed
    counters = rows(engine, "select campaign_id, total from sms.fact_campaign_counters")
    assert {c["campaign_id"] for c in counters} == set(simulator.sim.smsfactor_campaign_ids())
    assert _quarantined(engine) == []


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        (
            {
                "campaign_id": "VICTIM",
                "recipients_count": 1,
                "sent_count": 1,
                "replied_count": 0,
                "completed_at": "2026-11-20T10:00:00Z",
                "status": "completed",
                "recipients": [{"phone_number": "+441", "delivered_at": None, "replied": False}],
            },
            "older Nixflex shape",
        ),
        ({"data": {"campaign": "VICTIM"}, "version": 2}, "'recipients' should be a list"),
    ],
    ids=["older Nixflex shape", "unknown shape"],
)
def test_an_unknown_payload_shape_is_quarantined_with_its_reason(
    engine: Engine,
    simulator: SimulatorHandle,
    served: dict[str, dict],
    shape: dict[str, Any],
    reason: str,
) -> None:
    victim = _victim(simulator)
    body = json.dumps(shape).replace("VICTIM", victim).encode()
    simulator.sim.inject(Fault("nixflex", "replace", body=body, path_contains=victim))
    result = run_full_sync()
    assert result.success
    found = rows(engine, "select campaign_id, kind, reason from raw.quarantine")
    assert [(q["campaign_id"], q["kind"]) for q in found] == [(victim, "unknown_shape")]
    assert reason in found[0]["reason"]
    assert checks_by_name(result)["raw_response_loaded_or_quarantined"].passed
    others = {cid for cid, doc in served.items() if cid != victim and doc["recipients"]}
    held = {
        r["campaign_id"]
        for r in rows(engine, "select campaign_id from sms.fact_recipient_delivery")
    }
    assert held == others


# --- readable answers with bad items: loaded, the item flagged or kept out -----------------


def test_an_unknown_status_is_kept_as_unknown_and_reported(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    victim = _victim(simulator)

    def cancel_first(doc: dict[str, Any]) -> None:
        # Twilio's "canceled", never documented by Nixflex; the vendor's own counts then
        # leave that recipient out of its old bucket (it is still in the total).
        first = doc["recipients"][0]
        doc[f"{BUCKET[first['status']]}_count"] -= 1
        first["status"] = "canceled"

    simulator.sim.inject(Fault("nixflex", "mutate", mutate=cancel_first, path_contains=victim))
    result = run_full_sync()
    assert result.success  # a non-blocking ERROR check: the run goes on
    check = checks_by_name(result)["nixflex_recipient_status_is_documented"]
    assert not check.passed and check.severity.value == "ERROR"
    assert str(check.metadata["offending_campaigns"].value) == f"nixflex:{victim}"
    bucket = scalar(
        engine,
        "select delivery_bucket from sms.fact_recipient_delivery "
        "where campaign_id = :c and status = 'canceled'",
        c=victim,
    )
    assert bucket == "unknown"


def test_a_duplicate_recipient_loads_once_and_is_reported(
    engine: Engine, simulator: SimulatorHandle, served: dict[str, dict]
) -> None:
    victim = _victim(simulator)
    first = served[victim]["recipients"][0]

    def repeat_first(doc: dict[str, Any]) -> None:
        doc["recipients"].append({**doc["recipients"][0], "status": "undelivered"})

    simulator.sim.inject(Fault("nixflex", "mutate", mutate=repeat_first, path_contains=victim))
    result = run_full_sync()
    check = checks_by_name(result)["nixflex_recipient_is_unique"]
    assert not check.passed and str(check.metadata["offending_campaigns"].value) == (
        f"nixflex:{victim}"
    )
    assert _quarantined(engine) == [(victim, "duplicate_recipient")]
    status = scalar(
        engine,
        "select status from sms.fact_recipient_delivery where campaign_id = :c and phone = :p",
        c=victim,
        p=first["phone"],
    )
    assert status == first["status"]  # the first occurrence is the one loaded
    assert BUCKET.get(status)  # and it is a documented status


def test_a_campaign_that_vanished_between_list_and_get_is_kept_and_the_rest_loads(
    engine: Engine, simulator: SimulatorHandle, served: dict[str, dict]
) -> None:
    victim = _victim(simulator)
    simulator.sim.inject(Fault("nixflex", "status", status=404, path_contains=victim))
    result = run_full_sync()
    assert result.success
    check = checks_by_name(result)["nixflex_api_answered"]
    assert not check.passed and check.severity.value == "WARN"  # one request failed
    assert victim in str(check.metadata["errors"].value)
    found = rows(engine, "select campaign_id, kind, reason from raw.quarantine")
    assert [(q["campaign_id"], q["kind"]) for q in found] == [(victim, "vendor_error")]
    assert "campaign_not_found" in found[0]["reason"]
    _everything_loaded(engine, {cid: doc for cid, doc in served.items() if cid != victim})
