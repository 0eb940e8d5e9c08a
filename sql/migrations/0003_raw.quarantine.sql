-- raw.quarantine — grain: one row per answer or item kept out of the facts, with why.
-- kind: unreadable_body | vendor_error | unknown_shape | invalid_item | duplicate_recipient.
-- item is the refused item (NULL when the whole answer was refused).
create table raw.quarantine (
    quarantine_id  bigint generated always as identity primary key,
    response_id    bigint not null references raw.vendor_response (response_id),
    provider       text not null,
    campaign_id    text,
    kind           text not null,
    reason         text not null,
    item           jsonb,
    quarantined_at timestamptz not null default now()
);

create index quarantine_response_idx on raw.quarantine (response_id);
create index quarantine_time_idx on raw.quarantine (quarantined_at);
