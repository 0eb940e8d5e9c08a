"""Land vendor answers in ``raw.vendor_response`` before anything interprets them."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError

from pipelines.vendors.raw import RawResponse
from pipelines.warehouse import sqlfiles


def land(conn: Connection, raw: RawResponse, run_id: str | None = None) -> int:
    """Insert one answer (status ``pending``) and return its ``response_id``.

    A JSON body is stored as ``jsonb`` from its own text (Postgres parses it; nothing is
    re-serialised); any body Postgres will not take as ``jsonb`` (XML, HTML, truncated JSON,
    a NUL character) is stored as bytes. A campaign's answer with the same bytes as one
    already landed for it is stored by reference (``duplicate_of``): polling an unchanged
    campaign costs a row, not another copy of its recipients.
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
        "payload": None,
        "body": None,
        "run_id": run_id,
        "account": raw.account,
        "duplicate_of": same_as,
    }
    insert = text(sqlfiles.read("landing/insert_response.sql"))
    if same_as is not None:
        return int(conn.execute(insert, row).scalar_one())
    as_text = _json_text(raw.body)
    if as_text is not None:
        savepoint = conn.begin_nested()
        try:
            response_id = int(conn.execute(insert, {**row, "payload": as_text}).scalar_one())
        except DataError:  # not JSON that jsonb can hold: keep the bytes instead
            savepoint.rollback()
        else:
            savepoint.commit()
            return response_id
    return int(conn.execute(insert, {**row, "body": raw.body}).scalar_one())


def _json_text(body: bytes) -> str | None:
    """The body as text when it may be JSON (an object or array), else None."""
    start = body.lstrip()[:1]
    if start not in (b"{", b"["):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def land_now(engine: Engine, raw: RawResponse, run_id: str | None = None) -> int:
    """Land one answer in its own committed transaction, so it survives whatever follows."""
    with engine.begin() as conn:
        return land(conn, raw, run_id)
