"""Land vendor answers in ``raw.vendor_response`` before anything interprets them."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, text

from pipelines.vendors.raw import RawResponse
from pipelines.warehouse import bodies, sqlfiles


def land(
    conn: Connection, raw: RawResponse, run_id: str | None = None, vendor_ok: bool | None = None
) -> int:
    """Insert one answer (status ``pending``) and return its ``response_id``.

    The body is stored as the exact bytes received, whatever they are (JSON, XML, HTML, a
    truncated answer), compressed when large (``bodies``): nothing is parsed or
    re-serialised before it is safe in the warehouse. A campaign's answer with the same
    bytes as one already landed for it is stored by reference (``duplicate_of``): polling
    an unchanged campaign costs a row, not another copy of its recipients. ``vendor_ok``
    records whether the vendor said it succeeded: the caller knows (an answer its client
    refused as an error, SMSFactor's in-body errors on HTTP 200 included, is landed with
    False); without a word from the caller, the HTTP status says.
    """
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
        "run_id": run_id,
        "account": raw.account,
        "vendor_ok": 200 <= raw.http_status < 300 if vendor_ok is None else vendor_ok,
    }
    if raw.campaign_id is not None:
        by_reference = conn.execute(text(sqlfiles.read("landing/insert_reference.sql")), row)
        landed = by_reference.scalar_one_or_none()
        if landed is not None:
            return int(landed)
    stored, encoding = bodies.encode(raw.body)
    row |= {"body": stored, "body_encoding": encoding, "duplicate_of": None}
    insert = text(sqlfiles.read("landing/insert_response.sql"))
    return int(conn.execute(insert, row).scalar_one())


def land_now(
    engine: Engine, raw: RawResponse, run_id: str | None = None, vendor_ok: bool | None = None
) -> int:
    """Land one answer, committed at once, so it survives whatever follows.

    Each statement of ``land`` lands the answer whole or not at all, so each commits by
    itself (autocommit): no BEGIN and COMMIT round trips, which are most of the cost of
    recording an unchanged answer by reference."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return land(conn, raw, run_id, vendor_ok)
