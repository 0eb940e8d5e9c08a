"""Fetch + land against a real Postgres: a campaign that vanishes between list and get is
kept (its 404 answer landed and quarantined) and the other campaigns still load."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from pipelines.fetch import fetch_nixflex
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.warehouse.lanes import load_pending
from tests.sync_helpers import rows


def _summary(campaign_id: str) -> dict:
    return {
        "campaign_id": campaign_id,
        "name": campaign_id,
        "status": "done",
        "total_count": 1,
        "delivered_count": 1,
        "failed_count": 0,
        "pending_count": 0,
        "created_at": "2026-11-20T10:00:00Z",
    }


def _vendor(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/sms/campaigns"):
        summaries = [_summary(cid) for cid in ("smsc_kept", "smsc_gone")]
        return httpx.Response(200, json={"campaigns": summaries, "count": 2})
    if path.endswith("/smsc_gone"):
        error = {
            "type": "not_found",
            "code": "campaign_not_found",
            "message": "Campaign not found",
            "doc_url": "",
            "details": {},
        }
        return httpx.Response(404, json={"error": error})
    detail = {**_summary("smsc_kept"), "recipients": [{"phone": "+441", "status": "delivered"}]}
    return httpx.Response(200, json=detail)


def test_vanished_campaign_is_kept_and_the_rest_loads(engine: Engine) -> None:
    with httpx.Client(transport=httpx.MockTransport(_vendor)) as http:
        client = NixflexClient(http, api_key="k:s", base_url="https://nixflex.test/v1")
        report = fetch_nixflex(client, engine)
    assert report.fatal is None
    assert len(report.problems) == 1 and "smsc_gone" in report.problems[0]
    assert report.responses_landed == 3  # one list page and two detail answers, 404 included
    load_pending(engine)
    assert rows(engine, "select campaign_id from sms.dim_campaign") == [
        {"campaign_id": "smsc_kept"}
    ]
    quarantined = rows(engine, "select campaign_id, kind, reason from raw.quarantine")
    assert [(q["campaign_id"], q["kind"]) for q in quarantined] == [("smsc_gone", "vendor_error")]
    assert "campaign_not_found" in quarantined[0]["reason"]
