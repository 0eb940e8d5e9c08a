-- raw.vendor_response — grain: one row per HTTP answer fetched from a vendor, landed before
-- anything reads it. The body is kept as jsonb when it is JSON, else as bytes (XML, HTML,
-- truncated answers). content_hash is the sha256 of the exact bytes received.
create table raw.vendor_response (
    response_id    bigint generated always as identity primary key,
    provider       text not null check (provider in ('nixflex', 'smsfactor')),
    endpoint       text not null,
    request_path   text not null,
    request_params jsonb not null default '{}'::jsonb,
    campaign_id    text,
    http_status    integer not null,
    content_type   text,
    headers        jsonb not null default '{}'::jsonb,
    fetched_at     timestamptz not null,
    content_hash   text not null,
    payload        jsonb,
    body           bytea,
    run_id         text,
    load_status    text not null default 'pending'
                   check (load_status in ('pending', 'loaded', 'quarantined')),
    load_note      text,
    loaded_at      timestamptz,
    check (payload is not null or body is not null)
);

create index vendor_response_pending_idx
    on raw.vendor_response (provider, fetched_at, response_id)
    where load_status = 'pending';
create index vendor_response_campaign_idx
    on raw.vendor_response (provider, campaign_id, fetched_at);
