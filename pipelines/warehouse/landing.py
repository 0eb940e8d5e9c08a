"""Land vendor answers in ``raw.vendor_response`` before anything interprets them."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, text

from pipelines.vendors.raw import RawResponse
from pipelines.warehouse import sqlfiles


def land(conn: Connection, raw: RawResponse, run_id: str | None = None) -> int:
    """Insert one answer (status ``pending``) and return its ``response_id``.

    The body is stored as the exact bytes received, whatever they are (JSON, XML, HTML, a
    truncated answer): nothing is parsed or re-serialised before it is safe in the
    warehouse. A campaign's answer with the same bytes as one already landed for it is
    stored by reference (``duplicate_of``): polling an unchanged campaign costs a row, not
    another copy of its recipients.
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
    row = {
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
        "body": None if same_as is not None else raw.body,
        "run_id": run_id,
        "account": raw.account,
        "duplicate_of": same_as,
    }
    insert = text(sqlfiles.read("landing/insert_response.sql"))
    return int(conn.execute(insert, row).scalar_one())


def land_now(engine: Engine, raw: RawResponse, run_id: str | None = None) -> int:
    """Land one answer in its own committed transaction, so it survives whatever follows."""
    with engine.begin() as conn:
        return land(conn, raw, run_id)
