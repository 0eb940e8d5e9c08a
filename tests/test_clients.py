"""Both vendor clients against ``httpx.MockTransport``: auth, paging, retries, error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tenacity.nap

from pipelines.vendors.errors import (
    VendorAuthError,
    VendorError,
    VendorNotFound,
    VendorRateLimited,
    VendorUnavailable,
)
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.smsfactor_client import SmsFactorClient
from pipelines.vendors.transport import RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures"
NIXFLEX_KEY_ID = "nxf_live_4f1c2b9a"
NIXFLEX_KEY_SECRET = "nxfs_8d7e6c5b4a39281706f5e4d3"
NIXFLEX_KEY = f"{NIXFLEX_KEY_ID}:{NIXFLEX_KEY_SECRET}"
SMSFACTOR_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.smsfactor-test-token.c2lnbmF0dXJl"
# Tiny waits so retried tests stay fast; four tries in all (six for 429s).
FAST = RetryPolicy(
    attempts=4, max_seconds=5.0, initial_wait=0.001, max_wait=0.01, rate_limited_attempts=6
)

Handler = Callable[[httpx.Request], httpx.Response]


class Server:
    """Answers requests from a script of handlers (the last one repeats), recording each."""

    def __init__(self, *script: Handler | httpx.Response) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if callable(step):
            return step(request)
        # A fresh copy each time: one httpx.Response must not be sent twice.
        return httpx.Response(step.status_code, headers=step.headers, content=step.content)

    def http(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits tenacity asked for between tries; nothing actually sleeps."""
    asked: list[float] = []
    monkeypatch.setattr(tenacity.nap.time, "sleep", asked.append)
    return asked


def nixflex(server: Server, policy: RetryPolicy = FAST) -> NixflexClient:
    return NixflexClient(server.http(), api_key=NIXFLEX_KEY, policy=policy)


def smsfactor(server: Server, policy: RetryPolicy = FAST) -> SmsFactorClient:
    return SmsFactorClient(server.http(), api_token=SMSFACTOR_TOKEN, policy=policy)


def nixflex_error(status: int, type_: str, code: str, **details: Any) -> httpx.Response:
    """An answer in the documented Nixflex error envelope."""
    envelope = {
        "error": {
            "type": type_,
            "code": code,
            "message": f"{code.replace('_', ' ').capitalize()}.",
            "doc_url": f"https://docs.nixflex.com/errors#{code}",
            "details": details,
        }
    }
    return httpx.Response(status, json=envelope)


NIXFLEX_SEED = (FIXTURES / "nixflex_campaign_seed.json").read_bytes()
SMSFACTOR_SEED = (FIXTURES / "smsfactor_campaign_seed.json").read_bytes()


def ok_nixflex() -> httpx.Response:
    return httpx.Response(200, content=NIXFLEX_SEED, headers={"content-type": "application/json"})


def ok_smsfactor() -> httpx.Response:
    return httpx.Response(200, content=SMSFACTOR_SEED, headers={"content-type": "application/json"})


def summaries(*ids: str) -> list[dict[str, Any]]:
    return [
        {
            "campaign_id": cid,
            "name": f"Campaign {cid}",
            "status": "done",
            "total_count": 10,
            "delivered_count": 8,
            "failed_count": 1,
            "pending_count": 1,
            "created_at": "2026-05-17T03:45:12Z",
        }
        for cid in ids
    ]


def smsfactor_history_item(campaign_id: str) -> dict[str, Any]:
    item = json.loads(SMSFACTOR_SEED)["campaign"][0]
    return item | {"id": campaign_id}


# --- authentication headers ----------------------------------------------------------------


def test_nixflex_sends_bearer_key_id_colon_secret() -> None:
    server = Server(ok_nixflex())

    raw = nixflex(server).get_campaign("smsc_a1b2c3d4")

    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {NIXFLEX_KEY_ID}:{NIXFLEX_KEY_SECRET}"
    assert str(request.url) == "https://api.nixflex.com/v1/sms/campaigns/smsc_a1b2c3d4"
    assert raw.body == NIXFLEX_SEED
    assert raw.campaign_id == "smsc_a1b2c3d4"


def test_smsfactor_sends_bearer_token_and_asks_for_json() -> None:
    # Without Accept the API answers XML (docs/vendors.md).
    server = Server(ok_smsfactor())

    raw = smsfactor(server).get_campaign("18969398")

    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {SMSFACTOR_TOKEN}"
    assert request.headers["accept"] == "application/json"
    assert str(request.url) == "https://api.smsfactor.com/campaign/18969398"
    assert raw.body == SMSFACTOR_SEED


# --- paging --------------------------------------------------------------------------------


def test_nixflex_list_pages_until_a_short_page_ignoring_count() -> None:
    # Whether `count` is page size or overall total is undocumented: here it equals the
    # page size on full pages, which must not be read as "that was everything".
    pages = {
        0: summaries("c6", "c5"),
        2: summaries("c4", "c3"),
        4: summaries("c2"),
    }

    def page(request: httpx.Request) -> httpx.Response:
        items = pages[int(request.url.params["offset"])]
        return httpx.Response(200, json={"campaigns": items, "count": 2})

    server = Server(page)

    got = list(nixflex(server).list_pages(page_size=2))

    sent = [(r.url.path, r.url.params["limit"], r.url.params["offset"]) for r in server.requests]
    assert sent == [
        ("/v1/sms/campaigns", "2", "0"),
        ("/v1/sms/campaigns", "2", "2"),
        ("/v1/sms/campaigns", "2", "4"),
    ]
    assert [s.campaign_id for p in got for s in p.summaries] == ["c6", "c5", "c4", "c3", "c2"]
    assert all(p.problem is None for p in got)


def test_nixflex_list_full_last_page_then_empty_page_stops() -> None:
    pages = {0: summaries("c2", "c1"), 2: []}

    def page(request: httpx.Request) -> httpx.Response:
        items = pages[int(request.url.params["offset"])]
        return httpx.Response(200, json={"campaigns": items, "count": len(items)})

    server = Server(page)

    got = list(nixflex(server).list_pages(page_size=2))

    assert len(server.requests) == 2
    assert [s.campaign_id for p in got for s in p.summaries] == ["c2", "c1"]


def test_smsfactor_history_pages_with_start_and_length_until_total_records() -> None:
    pages = {0: ["4", "3"], 2: ["2", "1"]}

    def page(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        assert start in pages, f"asked for start={start} beyond totalRecords"
        body = {
            "status": 1,
            "message": "OK",
            "totalRecords": "4",
            "totalDisplayRecords": "4",
            "campaigns": [smsfactor_history_item(i) for i in pages[start]],
        }
        return httpx.Response(200, json=body)

    server = Server(page)

    got = list(smsfactor(server).history_pages(page_size=2))

    sent = [(r.url.path, r.url.params["start"], r.url.params["length"]) for r in server.requests]
    assert sent == [("/campaigns", "0", "2"), ("/campaigns", "2", "2")]
    assert [c.campaign_id for p in got for c in p.campaigns] == ["4", "3", "2", "1"]


# --- retries -------------------------------------------------------------------------------


def test_nixflex_429_with_retry_after_zero_is_retried(sleeps: list[float]) -> None:
    limited = nixflex_error(429, "rate_limit_error", "rate_limit_exceeded", retry_after=0)
    limited.headers["Retry-After"] = "0"
    server = Server(limited, ok_nixflex())

    raw = nixflex(server).get_campaign("smsc_a1b2c3d4")

    assert len(server.requests) == 2
    assert raw.http_status == 200
    assert json.loads(raw.body)["campaign_id"] == "smsc_a1b2c3d4"
    assert sleeps == [0.0]  # the vendor's hint, not our backoff


def test_nixflex_retry_after_zero_header_alone_is_honoured(sleeps: list[float]) -> None:
    # A 429 whose body carries no details.retry_after (e.g. answered by a gateway).
    limited = nixflex_error(429, "rate_limit_error", "rate_limit_exceeded")
    limited.headers["Retry-After"] = "0"
    server = Server(limited, ok_nixflex())

    nixflex(server).get_campaign("smsc_a1b2c3d4")

    assert sleeps == [0.0]


def test_retry_after_hint_wins_over_backoff(sleeps: list[float]) -> None:
    limited = nixflex_error(429, "rate_limit_error", "rate_limit_exceeded", retry_after=3)
    limited.headers["Retry-After"] = "3"
    server = Server(limited, ok_nixflex())
    policy = RetryPolicy(attempts=3, max_seconds=60.0, initial_wait=0.001, max_wait=10.0)

    nixflex(server, policy).get_campaign("smsc_a1b2c3d4")

    assert sleeps == [3.0]


@pytest.mark.parametrize("make", [nixflex, smsfactor], ids=["nixflex", "smsfactor"])
def test_server_errors_are_retried_until_success(
    make: Callable[[Server], Any], sleeps: list[float]
) -> None:
    ok = ok_nixflex() if make is nixflex else ok_smsfactor()
    server = Server(
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(503, text="Service Unavailable"),
        ok,
    )

    raw = make(server).get_campaign("x1")

    assert len(server.requests) == 4
    assert raw.http_status == 200
    assert len(sleeps) == 3


def test_server_errors_give_up_when_attempts_run_out(sleeps: list[float]) -> None:
    server = Server(httpx.Response(503, text="Service Unavailable"))

    with pytest.raises(VendorUnavailable) as caught:
        nixflex(server).get_campaign("smsc_a1b2c3d4")

    assert len(server.requests) == FAST.attempts
    assert caught.value.http_status == 503


def test_rate_limit_that_never_lifts_is_raised_as_rate_limited(sleeps: list[float]) -> None:
    limited = nixflex_error(429, "rate_limit_error", "rate_limit_exceeded", retry_after=0)
    limited.headers["Retry-After"] = "0"
    server = Server(limited)

    with pytest.raises(VendorRateLimited):
        nixflex(server).get_campaign("smsc_a1b2c3d4")

    # Being told to slow down is waited out longer than an error before giving up.
    assert len(server.requests) == FAST.rate_limited_attempts > FAST.attempts


@pytest.mark.parametrize("make", [nixflex, smsfactor], ids=["nixflex", "smsfactor"])
def test_read_timeout_is_retried_then_unavailable(
    make: Callable[[Server], Any], sleeps: list[float]
) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("The read operation timed out", request=request)

    server = Server(time_out)

    with pytest.raises(VendorUnavailable) as caught:
        make(server).get_campaign("x1")

    assert len(server.requests) == FAST.attempts
    assert caught.value.http_status is None


def test_read_timeout_then_success_returns_the_data(sleeps: list[float]) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("The read operation timed out", request=request)

    server = Server(time_out, ok_nixflex())

    raw = nixflex(server).get_campaign("smsc_a1b2c3d4")

    assert raw.body == NIXFLEX_SEED
    assert len(server.requests) == 2


# --- fatal errors --------------------------------------------------------------------------


def test_nixflex_401_is_an_auth_error_and_not_retried(sleeps: list[float]) -> None:
    server = Server(nixflex_error(401, "authentication_error", "invalid_api_key"))

    with pytest.raises(VendorAuthError) as caught:
        nixflex(server).get_campaign("smsc_a1b2c3d4")

    assert len(server.requests) == 1
    assert sleeps == []
    assert caught.value.http_status == 401


def test_smsfactor_http_401_is_an_auth_error_and_not_retried(sleeps: list[float]) -> None:
    server = Server(httpx.Response(401, json={"status": -1, "message": "Unauthorized"}))

    with pytest.raises(VendorAuthError):
        smsfactor(server).get_campaign("18969398")

    assert len(server.requests) == 1


def test_nixflex_404_is_not_found_with_the_raw_answer_attached() -> None:
    answer = nixflex_error(404, "not_found", "campaign_not_found")
    body = answer.content
    server = Server(answer)

    with pytest.raises(VendorNotFound) as caught:
        nixflex(server).get_campaign("smsc_missing")

    assert len(server.requests) == 1
    exc = caught.value
    assert exc.code == "campaign_not_found"
    assert exc.response is not None
    assert exc.response.http_status == 404
    assert exc.response.body == body
    assert exc.response.campaign_id == "smsc_missing"


def test_smsfactor_status_minus_1_on_http_200_is_an_auth_error() -> None:
    # docs/vendors.md: errors come in the body, possibly with HTTP 200; -1 is authentication.
    server = Server(httpx.Response(200, json={"status": -1, "message": "Authentication error"}))

    with pytest.raises(VendorAuthError) as caught:
        smsfactor(server).get_campaign("18969398")

    assert len(server.requests) == 1
    assert caught.value.http_status == 200


def test_smsfactor_status_minus_5_on_http_200_is_not_found() -> None:
    server = Server(httpx.Response(200, json={"status": -5, "message": "Campaign not found"}))

    with pytest.raises(VendorNotFound) as caught:
        smsfactor(server).get_campaign("404404")

    assert len(server.requests) == 1
    assert caught.value.response is not None
    assert caught.value.response.http_status == 200


def test_smsfactor_xml_error_answer_is_still_recognised() -> None:
    # The client asks for JSON but must read XML too if that is what comes back.
    body = (
        b'<?xml version="1.0"?><response><status>-1</status><message>Bad token</message></response>'
    )
    server = Server(httpx.Response(200, content=body, headers={"content-type": "text/xml"}))

    with pytest.raises(VendorAuthError):
        smsfactor(server).get_campaign("18969398")


# --- credentials stay out of messages ------------------------------------------------------


def _nixflex_429() -> httpx.Response:
    limited = nixflex_error(429, "rate_limit_error", "rate_limit_exceeded", retry_after=0)
    limited.headers["Retry-After"] = "0"
    return limited


def _time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("The read operation timed out", request=request)


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


NIXFLEX_FAILURES: dict[str, Handler | httpx.Response] = {
    "401": nixflex_error(401, "authentication_error", "invalid_api_key"),
    "403": nixflex_error(403, "permission_error", "forbidden"),
    "404": nixflex_error(404, "not_found", "campaign_not_found"),
    "400": nixflex_error(400, "invalid_request", "invalid_parameter"),
    "429": _nixflex_429(),
    "500": httpx.Response(500, text="oops"),
    "timeout": _time_out,
    "refused": _refuse,
    "401 echoing the key": httpx.Response(
        401,
        json={
            "error": {
                "type": "authentication_error",
                "code": "invalid_api_key",
                "message": f"API key {NIXFLEX_KEY_ID}:{NIXFLEX_KEY_SECRET} is not valid",
            }
        },
    ),
}
SMSFACTOR_FAILURES: dict[str, Handler | httpx.Response] = {
    "401": httpx.Response(401, text="Unauthorized"),
    "-1": httpx.Response(200, json={"status": -1, "message": "Authentication error"}),
    "-5": httpx.Response(200, json={"status": -5, "message": "Not found"}),
    "-99": httpx.Response(200, json={"status": -99, "message": "Unknown"}),
    "error": httpx.Response(200, json={"error": "Invalid token"}),
    "-1 echoing the token": httpx.Response(
        200, json={"status": -1, "message": f"Token {SMSFACTOR_TOKEN} unknown"}
    ),
    "timeout": _time_out,
    "refused": _refuse,
}


def _failures() -> Iterator[Any]:
    for name, step in NIXFLEX_FAILURES.items():
        yield pytest.param(
            nixflex, step, (NIXFLEX_KEY_ID, NIXFLEX_KEY_SECRET), id=f"nixflex-{name}"
        )
    for name, step in SMSFACTOR_FAILURES.items():
        yield pytest.param(smsfactor, step, (SMSFACTOR_TOKEN,), id=f"smsfactor-{name}")


@pytest.mark.parametrize(("make", "step", "secrets"), list(_failures()))
def test_credentials_never_appear_in_exception_messages(
    make: Callable[[Server], Any],
    step: Handler | httpx.Response,
    secrets: tuple[str, ...],
    sleeps: list[float],
) -> None:
    server = Server(step)

    with pytest.raises(VendorError) as caught:
        make(server).get_campaign("x1")

    message = str(caught.value)
    assert message  # there is a message to read
    kept = caught.value.response  # the raw answer that will be landed, when there was one
    for secret in secrets:
        assert secret not in message
        assert kept is None or secret.encode() not in kept.body + repr(kept.headers).encode()


def test_an_echoed_credential_reads_redacted_in_the_error(sleeps: list[float]) -> None:
    server = Server(NIXFLEX_FAILURES["401 echoing the key"])
    with pytest.raises(VendorAuthError) as caught:
        nixflex(server).get_campaign("x1")
    assert "API key [redacted] is not valid" in str(caught.value)
