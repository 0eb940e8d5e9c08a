"""Fault injection in the vendor simulator, over real HTTP: each kind of fault for each vendor,
``times`` and matching, call counting, the rate window, and the ``/_sim/faults`` control API."""

from __future__ import annotations

import base64
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pipelines.simulator import (
    NIXFLEX_DEMO_KEY,
    SMSFACTOR_DEMO_TOKEN,
    Fault,
    SimClock,
    Simulator,
    serve,
)

START = datetime(2026, 5, 17, 12, 0, tzinfo=UTC)
NIXFLEX = {"Authorization": f"Bearer {NIXFLEX_DEMO_KEY}"}
SMSFACTOR_JSON = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/json"}
SMSFACTOR_XML = {"Authorization": f"Bearer {SMSFACTOR_DEMO_TOKEN}", "Accept": "application/xml"}
NIXFLEX_LIST = "/nixflex/v1/sms/campaigns"
SMSFACTOR_HISTORY = "/smsfactor/campaigns"


@pytest.fixture
def sim() -> Simulator:
    # A frozen clock: the same request gives the same bytes, so a faulted answer can be
    # compared with the real one.
    return Simulator(seed=42, clock=SimClock(START))


@pytest.fixture
def base_url(sim: Simulator) -> Iterator[str]:
    with serve(sim) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        yield client


def nixflex_get(sim: Simulator) -> str:
    return f"{NIXFLEX_LIST}/{sim.nixflex_campaign_ids()[-1]}"


def smsfactor_get(sim: Simulator, index: int = -1) -> str:
    return f"/smsfactor/campaign/{sim.smsfactor_campaign_ids()[index]}"


# Kind "status": the vendor's own error shapes.

NIXFLEX_ERRORS = [
    # (status, endpoint, type, code)
    (401, "list", "authentication_error", "invalid_api_key"),
    (403, "list", "permission_error", "forbidden"),
    (404, "get", "not_found", "campaign_not_found"),
    (429, "list", "rate_limit_error", "rate_limit_exceeded"),
    (500, "list", "server_error", "internal_error"),
    (502, "get", "provider_error", "provider_unavailable"),
    (503, "list", "server_error", "service_unavailable"),
]


def test_status_fault_answers_in_the_nixflex_error_envelope(
    sim: Simulator, http: httpx.Client
) -> None:
    paths = {"list": NIXFLEX_LIST, "get": nixflex_get(sim)}
    for status, endpoint, error_type, code in NIXFLEX_ERRORS:
        sim.inject(Fault("nixflex", "status", status=status))
        response = http.get(paths[endpoint], headers=NIXFLEX)
        assert response.status_code == status
        error = response.json()["error"]
        assert set(error) == {"type", "code", "message", "doc_url", "details"}
        assert (error["type"], error["code"]) == (error_type, code)
        assert error["doc_url"] == f"https://docs.nixflex.com/errors/{code}"
        if status == 429:
            assert response.headers["Retry-After"] == "1"
            assert error["details"] == {"retry_after": 1}
        assert http.get(paths[endpoint], headers=NIXFLEX).status_code == 200  # used up


def test_status_fault_answers_like_smsfactor_behind_its_proxy(
    sim: Simulator, http: httpx.Client
) -> None:
    for status, title in ((500, "Internal Server Error"), (502, "Bad Gateway"), (503, "")):
        sim.inject(Fault("smsfactor", "status", status=status))
        page = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)  # asked for JSON all the same
        assert page.status_code == status
        assert page.headers["content-type"] == "text/html"
        assert f"<h1>{status} {title}".rstrip() in page.text
        with pytest.raises(json.JSONDecodeError):
            page.json()
    for status, vendor_status in ((401, -1), (404, -5), (403, -99), (429, -99)):
        sim.inject(Fault("smsfactor", "status", status=status, endpoint="get"))
        response = http.get(smsfactor_get(sim), headers=SMSFACTOR_JSON)
        assert response.status_code == status
        assert set(response.json()) == {"status", "message", "details"}
        assert response.json()["status"] == vendor_status
    assert response.headers["Retry-After"] == "1"
    sim.inject(Fault("smsfactor", "status", status=404))
    as_xml = http.get(smsfactor_get(sim), headers=SMSFACTOR_XML)
    assert (as_xml.status_code, as_xml.headers["content-type"]) == (404, "application/xml")
    assert ET.fromstring(as_xml.content).findtext("status") == "-5"
    normal = http.get(smsfactor_get(sim), headers=SMSFACTOR_JSON)
    assert normal.status_code == 200
    assert normal.json()["status"] == 1


# Kind "replace": any bytes, any status.


def test_replace_fault_sends_exactly_the_given_answer(sim: Simulator, http: httpx.Client) -> None:
    sim.inject(
        Fault("nixflex", "replace", body=b'{"campaigns": [{"campaign_id": '),
        Fault("smsfactor", "replace", body=b'{"error": "Invalid token"}'),
        Fault("smsfactor", "replace", status=503, body=b"busy", content_type="text/plain"),
    )
    malformed = http.get(NIXFLEX_LIST, headers=NIXFLEX)
    assert malformed.status_code == 200
    assert malformed.content == b'{"campaigns": [{"campaign_id": '
    assert malformed.headers["content-type"] == "application/json"
    assert "X-RateLimit-Limit" not in malformed.headers
    error_in_200 = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)
    assert (error_in_200.status_code, error_in_200.json()) == (200, {"error": "Invalid token"})
    busy = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)
    assert (busy.status_code, busy.headers["content-type"], busy.text) == (
        503,
        "text/plain",
        "busy",
    )
    assert http.get(NIXFLEX_LIST, headers=NIXFLEX).json()["count"] == 12
    assert http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON).json()["status"] == 1


# Kind "mutate": the real answer, changed by a function.


def test_mutate_fault_changes_exactly_what_it_was_told(sim: Simulator, http: httpx.Client) -> None:
    real = http.get(NIXFLEX_LIST, headers=NIXFLEX).json()

    def unknown_status(doc: dict[str, Any]) -> None:  # in place
        doc["campaigns"][0]["status"] = "paused"

    sim.inject(Fault("nixflex", "mutate", mutate=unknown_status))
    mutated = http.get(NIXFLEX_LIST, headers=NIXFLEX)
    assert mutated.status_code == 200
    expected = json.loads(json.dumps(real))
    expected["campaigns"][0]["status"] = "paused"
    assert mutated.json() == expected
    assert mutated.headers["X-RateLimit-Limit"] == "600"  # the real answer's headers stay

    real_sf = http.get(smsfactor_get(sim), headers=SMSFACTOR_JSON).json()
    older_shape = {**real_sf["campaign"][0], "status": 1}  # a sister platform's integer status
    sim.inject(Fault("smsfactor", "mutate", mutate=lambda doc: doc["campaign"][0] | older_shape))
    assert http.get(smsfactor_get(sim), headers=SMSFACTOR_JSON).json() == older_shape
    assert http.get(smsfactor_get(sim), headers=SMSFACTOR_JSON).json() == real_sf


def test_mutate_fault_on_an_xml_answer_says_it_needs_json(
    sim: Simulator, http: httpx.Client
) -> None:
    sim.inject(Fault("smsfactor", "mutate", mutate=lambda doc: None))
    response = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_XML)
    assert response.status_code == 500
    assert "needs a JSON answer" in response.json()["error"]
    assert "application/xml" in response.json()["error"]


# Kind "truncate": a complete HTTP answer whose body is cut.


def test_truncate_fault_cuts_the_body_with_a_matching_length(
    sim: Simulator, http: httpx.Client
) -> None:
    real = http.get(nixflex_get(sim), headers=NIXFLEX).content
    real_sf = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON).content
    sim.inject(Fault("nixflex", "truncate"), Fault("smsfactor", "truncate", keep_bytes=10))
    cut = http.get(nixflex_get(sim), headers=NIXFLEX)
    assert cut.status_code == 200
    assert cut.content == real[: len(real) // 2]
    assert int(cut.headers["Content-Length"]) == len(cut.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    cut_sf = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)
    assert (cut_sf.status_code, cut_sf.content) == (200, real_sf[:10])
    assert http.get(nixflex_get(sim), headers=NIXFLEX).content == real


# Kind "delay": slow, not broken.


def test_delay_fault_trips_a_read_timeout_while_other_requests_are_served(
    sim: Simulator, base_url: str
) -> None:
    sim.inject(Fault("nixflex", "delay", seconds=1.0))
    with httpx.Client(base_url=base_url, timeout=0.2) as impatient:
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            impatient.get(NIXFLEX_LIST, headers=NIXFLEX)
        # The delayed request still sleeps in its own thread: this one is not queued behind it.
        assert impatient.get(NIXFLEX_LIST, headers=NIXFLEX).status_code == 200
        assert time.perf_counter() - started < 0.8


def test_delay_fault_answers_normally_after_the_pause(sim: Simulator, http: httpx.Client) -> None:
    real = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON).content
    sim.inject(Fault("smsfactor", "delay", seconds=0.3))
    started = time.perf_counter()
    slow = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)
    assert time.perf_counter() - started >= 0.3
    assert (slow.status_code, slow.content) == (200, real)


# Kind "reset": no answer at all.


def test_reset_fault_drops_the_connection(sim: Simulator, http: httpx.Client) -> None:
    sim.inject(Fault("nixflex", "reset"), Fault("smsfactor", "reset"))
    with pytest.raises(httpx.TransportError):
        http.get(NIXFLEX_LIST, headers=NIXFLEX)
    with pytest.raises(httpx.TransportError):
        http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)
    assert http.get(NIXFLEX_LIST, headers=NIXFLEX).status_code == 200
    assert http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON).status_code == 200
    assert not sim.pending_faults()


# Which requests a fault hits.


def test_times_and_endpoint_are_honoured(sim: Simulator, http: httpx.Client) -> None:
    sim.inject(Fault("nixflex", "status", status=500, times=2, endpoint="get"))
    assert http.get(NIXFLEX_LIST, headers=NIXFLEX).status_code == 200  # another endpoint
    assert http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON).status_code == 200  # vendor
    assert [f.times for f in sim.pending_faults()] == [2]
    statuses = [http.get(nixflex_get(sim), headers=NIXFLEX).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert sim.pending_faults() == []


def test_path_match_and_injection_order_are_honoured(sim: Simulator, http: httpx.Client) -> None:
    target, other = smsfactor_get(sim, 0), smsfactor_get(sim, 1)
    sim.inject(
        Fault("smsfactor", "status", status=404, path_contains=target.rsplit("/", 1)[-1]),
        Fault("smsfactor", "status", status=503, endpoint="get"),
    )
    assert http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON).status_code == 200
    assert http.get(target, headers=SMSFACTOR_JSON).json()["status"] == -5  # first match wins
    assert http.get(target, headers=SMSFACTOR_JSON).status_code == 503  # then the next one
    assert http.get(other, headers=SMSFACTOR_JSON).status_code == 200
    assert http.get(target, headers=SMSFACTOR_JSON).status_code == 200


def test_unauthenticated_requests_keep_their_auth_error(sim: Simulator, http: httpx.Client) -> None:
    sim.inject(Fault("nixflex", "status", status=503))
    wrong = http.get(NIXFLEX_LIST, headers={"Authorization": "Bearer nxf_demo:wrong"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert http.get("/_sim/calls").status_code == 200  # nor is the control API faulted
    assert [f.times for f in sim.pending_faults()] == [1]
    assert http.get(NIXFLEX_LIST, headers=NIXFLEX).status_code == 503


def test_bad_faults_are_refused_when_made() -> None:
    with pytest.raises(ValueError, match="vendor"):
        Fault("twilio", "reset")
    with pytest.raises(ValueError, match="endpoint"):
        Fault("smsfactor", "reset", endpoint="list")  # a Nixflex endpoint name
    with pytest.raises(ValueError, match="status"):
        Fault("nixflex", "status")
    with pytest.raises(ValueError, match="seconds applies only to kind delay"):
        Fault("nixflex", "reset", seconds=2)
    with pytest.raises(ValueError, match="times"):
        Fault("nixflex", "reset", times=0)


# Counting and the rate window.


def test_faulted_requests_are_counted_under_their_endpoint(
    sim: Simulator, http: httpx.Client
) -> None:
    sim.inject(
        Fault("nixflex", "status", status=429, endpoint="get"),
        Fault("smsfactor", "reset"),
        Fault("nixflex", "truncate", endpoint="list"),
    )
    http.get(nixflex_get(sim), headers=NIXFLEX)
    with pytest.raises(httpx.TransportError):
        http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)
    http.get(NIXFLEX_LIST, headers=NIXFLEX)
    http.get(NIXFLEX_LIST, headers=NIXFLEX)
    calls = http.get("/_sim/calls").json()["calls"]
    assert calls == {"nixflex/get": 1, "nixflex/list": 2, "smsfactor/history": 1}


def test_replaced_answers_use_the_rate_window_but_not_forced_429s() -> None:
    sim = Simulator(seed=42, clock=SimClock(START), rate_limit=3, rate_window=3600)
    sim.throttle_next(1)
    sim.inject(Fault("nixflex", "status", status=500))
    left = 3600 - time.time() % 3600
    if left < 1:  # the four requests must share one real-time window
        time.sleep(left + 0.02)
    with serve(sim) as base_url, httpx.Client(base_url=base_url) as http:
        answers = [http.get(NIXFLEX_LIST, headers=NIXFLEX) for _ in range(4)]
    # The fault comes first, the forced 429 is still there after it, then the window decides:
    # the faulted request used one of its three requests.
    assert [a.status_code for a in answers] == [500, 429, 200, 200]
    assert answers[3].headers["X-RateLimit-Remaining"] == "0"
    assert sim.max_requests_in_window("nixflex") == 3


# The control API.


def test_control_api_injects_lists_and_clears_faults(sim: Simulator, http: httpx.Client) -> None:
    body = b"<html>maintenance</html>"
    faults = [
        {
            "vendor": "smsfactor",
            "kind": "replace",
            "status": 200,
            "body_base64": base64.b64encode(body).decode(),
            "content_type": "text/html",
            "endpoint": "history",
        },
        {"vendor": "nixflex", "kind": "status", "status": 502, "times": 3},
    ]
    assert http.post("/_sim/faults", json=faults).status_code == 200
    listed = http.get("/_sim/faults").json()["faults"]
    assert [(f["vendor"], f["kind"], f["times"]) for f in listed] == [
        ("smsfactor", "replace", 1),
        ("nixflex", "status", 3),
    ]
    assert not {"body", "body_base64", "mutate"} & set(listed[0])
    replaced = http.get(SMSFACTOR_HISTORY, headers=SMSFACTOR_JSON)
    assert (replaced.content, replaced.headers["content-type"]) == (body, "text/html")
    assert http.get(NIXFLEX_LIST, headers=NIXFLEX).status_code == 502
    assert [f["times"] for f in http.get("/_sim/faults").json()["faults"]] == [2]
    assert http.delete("/_sim/faults").json() == {"cleared": 1}
    assert http.get("/_sim/faults").json() == {"faults": []}
    assert http.get(NIXFLEX_LIST, headers=NIXFLEX).status_code == 200


BAD_FAULTS: list[tuple[object, str]] = [
    ([{"vendor": "twilio", "kind": "reset"}], "vendor must be one of"),
    ([{"vendor": "nixflex", "kind": "explode"}], "kind must be one of"),
    ([{"vendor": "nixflex", "kind": "reset", "colour": "red"}], "unknown field(s) colour"),
    ([{"vendor": "nixflex", "kind": "mutate", "mutate": "x"}], "inject it in-process"),
    ([{"vendor": "nixflex", "kind": "replace", "body": "x"}], "body_base64"),
    ([{"vendor": "nixflex", "kind": "replace", "body_base64": "%%"}], "not base64"),
    ([{"vendor": "nixflex", "kind": "status"}], "needs status"),
    ([{"vendor": "nixflex", "kind": "delay", "seconds": "1"}], "seconds must be"),
    ([{"kind": "reset"}], "missing field(s) vendor"),
    ({"vendor": "nixflex", "kind": "reset"}, "JSON list"),
    ([{"vendor": "nixflex", "kind": "reset"}, {"vendor": "x", "kind": "reset"}], "fault 1:"),
]


def test_control_api_rejects_bad_faults(http: httpx.Client) -> None:
    for payload, complaint in BAD_FAULTS:  # one server for all: each case must leave none
        response = http.post("/_sim/faults", json=payload)
        assert response.status_code == 400, payload
        assert complaint in response.json()["error"], payload
        assert http.get("/_sim/faults").json() == {"faults": []}, payload  # all or nothing
    assert http.post("/_sim/faults", content=b"{not json").status_code == 400
