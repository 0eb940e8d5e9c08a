-- raw.vendor_response.landed_at — when the answer was written to the landing (the
-- warehouse's clock; NULL for answers landed before 0.7.0). The check that every answer
-- ends loaded or quarantined looks, after a sync, at the answers landed before that sync's
-- load started: the load was due to read them. An answer another run landed afterwards
-- (two syncs at once, each polling and loading in turn) is not yet due, and must not fail
-- this run's blocking check.
alter table raw.vendor_response add column landed_at timestamptz;
alter table raw.vendor_response alter column landed_at set default now();

comment on column raw.vendor_response.landed_at is
    'When it was written to the landing (warehouse clock; NULL before 0.7.0).';
