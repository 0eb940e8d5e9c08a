"""Land vendor answers in ``raw.vendor_response`` before anything interprets them."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, text

from pipelines.vendors.raw import RawResponse
from pipelines.warehouse import sqlfiles


def land(conn: Connection, raw: RawResponse, run_id: str | None = None) -> int:
    """Insert one answer (status ``pending``) and return its ``response_id``.

    A JSON body is stored as ``jsonb`` from its own text (no re-serialisation); any other
    body (XML, HTML, truncated JSON) is stored as bytes. A campaign's answer with the same
    bytes as one already landed for it is stored by reference (``duplicate_of``): polling
    an unchanged campaign costs a row, not another copy of its recipients.
    """
    same_as = None
    if raw.campaign_id is not None:
        same_as = conn.execute(
            text(sqlfiles.read("landing/same_bytes.sql")),
            {
                "provider": raw.provider,
                "campaign_id": raw.campaign_id,
                "endpoint": raw.endpoint,
                "content_hash": raw.content_hash,
            },
        ).scalar_one_or_none()
    is_json = same_as is None and raw.json_payload() is not None
    row = conn.execute(
        text(sqlfiles.read("landing/insert_response.sql")),
        {
            "provider": raw.provider,
            "endpoint": raw.endpoint,
            "path": raw.path,
            "params": json.dumps(raw.params, default=str),
            "campaign_id": raw.campaign_id,
            "http_status": raw.http_status,
            "content_type": raw.content_type,
            "headers": json.dumps(raw.headers),
            "fetched_at": raw.fetched_at,
            "content_hash": raw.content_hash,
            "payload": raw.body.decode("utf-8") if is_json else None,
            "body": None if is_json or same_as is not None else raw.body,
            "run_id": run_id,
            "account": raw.account,
            "duplicate_of": same_as,
        },
    ).one()
    return int(row.response_id)


def land_now(engine: Engine, raw: RawResponse, run_id: str | None = None) -> int:
    """Land one answer in its own committed transaction, so it survives whatever follows."""
    with engine.begin() as conn:
        return land(conn, raw, run_id)
