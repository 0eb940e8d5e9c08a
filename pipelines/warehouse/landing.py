"""Land vendor answers in ``raw.vendor_response`` before anything interprets them."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, text

from pipelines.vendors.raw import RawResponse

_INSERT = text("""
insert into raw.vendor_response (
    provider, endpoint, request_path, request_params, campaign_id, http_status,
    content_type, headers, fetched_at, content_hash, payload, body, run_id, account
) values (
    :provider, :endpoint, :path, cast(:params as jsonb), :campaign_id, :http_status,
    :content_type, cast(:headers as jsonb), :fetched_at, :content_hash,
    cast(:payload as jsonb), :body, :run_id, :account
)
returning response_id
""")


def land(conn: Connection, raw: RawResponse, run_id: str | None = None) -> int:
    """Insert one answer (status ``pending``) and return its ``response_id``.

    A JSON body is stored as ``jsonb`` from its own text (no re-serialisation); any other
    body (XML, HTML, truncated JSON) is stored as bytes.
    """
    is_json = raw.json_payload() is not None
    row = conn.execute(
        _INSERT,
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
            "body": None if is_json else raw.body,
            "run_id": run_id,
            "account": raw.account,
        },
    ).one()
    return int(row.response_id)


def land_now(engine: Engine, raw: RawResponse, run_id: str | None = None) -> int:
    """Land one answer in its own committed transaction, so it survives whatever follows."""
    with engine.begin() as conn:
        return land(conn, raw, run_id)
