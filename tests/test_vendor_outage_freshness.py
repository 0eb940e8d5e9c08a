"""An SMSFactor outage is an outage even when every answer says HTTP 200: SMSFactor reports
its errors in the body with a negative ``status`` (docs/vendors.md), and ``data_is_fresh``
counts only the answers in which the vendor said it succeeded (``raw.vendor_response.
vendor_ok``). Times are set relative to the warehouse's clock, which the check reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from pipelines.simulator import Fault
from pipelines.vendors import nixflex_client, smsfactor_client
from pipelines.vendors.errors import VendorError
from pipelines.vendors.raw import RawResponse
from pipelines.warehouse.checks import run_check
from tests.conftest import T0, SimulatorHandle
from tests.sync_helpers import checks_by_name, rows, run_full_sync, scalar

# SMSFactor's "unknown error", the answer its API gives while it is down, on HTTP 200.
OUTAGE = json.dumps({"status": -99, "message": "Unknown error", "details": "try later"})


def _warehouse_now(engine: Engine) -> datetime:
    value = scalar(engine, "select now()")
    assert isinstance(value, datetime)
    return value


def test_an_smsfactor_outage_served_as_http_200_makes_data_is_fresh_fail(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    now = _warehouse_now(engine)
    # A good sync 40 minutes ago (the simulator's clock is the poller's: fetched_at).
    simulator.clock.set(now - timedelta(minutes=40))
    assert run_full_sync().success
    # From then on SMSFactor answers every request HTTP 200 with status -99; 10 minutes ago
    # a sync asked it again. Nixflex kept answering.
    simulator.sim.inject(Fault("smsfactor", "replace", body=OUTAGE.encode(), times=1000))
    simulator.clock.set(now - timedelta(minutes=10))
    outage = run_full_sync()

    outage_answers = rows(
        engine,
        "select http_status, vendor_ok from raw.vendor_response "
        "where provider = 'smsfactor' and fetched_at = :t",
        t=now - timedelta(minutes=10),
    )
    assert outage_answers and all(a["http_status"] == 200 for a in outage_answers)
    assert not any(a["vendor_ok"] for a in outage_answers)
    # The last successful SMSFactor answer is 40 minutes old: past the 30-minute window.
    check = run_check(engine, "data_is_fresh")
    assert [(r["provider"], r["last_successful_fetch"]) for r in check.rows] == [
        ("smsfactor", now - timedelta(minutes=40))
    ]
    evaluation = checks_by_name(outage)["data_is_fresh"]
    assert not evaluation.passed and "smsfactor" in str(evaluation.metadata)


def test_a_vendor_that_answers_again_is_fresh_again(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    now = _warehouse_now(engine)
    simulator.clock.set(now - timedelta(minutes=5))
    assert run_full_sync().success
    assert run_check(engine, "data_is_fresh").passed
    assert scalar(
        engine, "select bool_and(vendor_ok) from raw.vendor_response where http_status = 200"
    )


def _answer(provider: str, body: bytes, status: int = 200) -> RawResponse:
    return RawResponse(provider, "campaigns.history", "/campaigns", {}, status, "", body, T0)


XML_ERROR = (
    b"<?xml version='1.0'?><response><status>-3</status><message>No credit</message></response>"
)


@pytest.mark.parametrize(
    ("provider", "body", "status", "ok"),
    [
        ("smsfactor", OUTAGE.encode(), 200, False),
        ("smsfactor", XML_ERROR, 200, False),
        ("smsfactor", b'{"error": "Invalid token"}', 200, False),
        ("smsfactor", b'{"status": 1, "campaigns": [], "totalRecords": "0"}', 200, True),
        ("smsfactor", b"<response><status>1</status><campaigns /></response>", 200, True),
        ("smsfactor", b'{"status": 1, "campaigns": [', 200, True),  # cut short: the loader's
        ("smsfactor", b"<html>Bad gateway</html>", 502, False),
        ("nixflex", b'{"campaigns": []}', 200, True),
        ("nixflex", b'{"error": {"code": "internal"}}', 500, False),
    ],
    ids=[
        "sf json -99",
        "sf xml -3",
        "sf error field",
        "sf page",
        "sf xml page",
        "sf cut short",
        "sf 502",
        "nixflex page",
        "nixflex 500",
    ],
)
def test_what_counts_as_the_vendor_saying_it_succeeded(
    provider: str, body: bytes, status: int, ok: bool
) -> None:
    """The client's verdict, which the landing records: an answer it refuses is landed
    with vendor_ok false (pipelines/fetch.py), any other with true."""
    decipher = {"nixflex": nixflex_client.decipher, "smsfactor": smsfactor_client.decipher}
    try:
        decipher[provider](_answer(provider, body, status))
    except VendorError:
        accepted = False
    else:
        accepted = True
    assert accepted is ok
