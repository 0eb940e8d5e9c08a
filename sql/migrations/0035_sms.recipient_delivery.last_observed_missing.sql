-- sms.recipient_delivery (the table behind sms.fact_recipient_delivery) learns when each
-- recipient was last observed, and whether the campaign's latest answer still lists it.
--
--   * last_observed_at: when an answer last listed the recipient, as of the row's last
--     write; NULL until the row is written again after its first observation (then it is
--     first_seen_at: the first-sight COPY sends no value for it, as for status_changed_at,
--     migration 0021). While the campaign's latest answer lists the recipient
--     (missing_since NULL), that answer observed it too: its time is the campaign's
--     sms.dim_campaign.last_polled_at, so the recipient's last observation is the later of
--     the two. That is what the loader compares an answer's time with, so no row is
--     rewritten when an answer only confirms it, and no backfill is needed: every row held
--     before this migration was listed, as far as the warehouse knew, by its campaign's
--     latest answer.
--   * missing_since: NULL while the campaign's latest answer lists the recipient; else the
--     time of an answer, later than its last observation, that did not list it (the
--     answer that found it missing). Such a row is kept but leaves
--     sms.fact_recipient_delivery and every count built on it (migration 0036); an answer
--     that lists it again, later than that, clears it.
--
-- The primary key's index now carries missing_since too (INCLUDE, like delivery_bucket:
-- not part of the key), so counting a campaign's listed recipients stays an index-only
-- scan of its key range. Building it reads the table once.
alter table sms.recipient_delivery
    add column last_observed_at timestamptz,
    add column missing_since timestamptz;

alter table sms.recipient_delivery
    drop constraint recipient_delivery_pkey,
    add constraint recipient_delivery_pkey
        primary key (campaign_id, phone) include (delivery_bucket, missing_since);

comment on column sms.recipient_delivery.last_observed_at is
    'When an answer last listed it (UTC), as of the row''s last write; NULL: first_seen_at. While missing_since is NULL the campaign''s latest answer (sms.dim_campaign.last_polled_at) lists it too.';
comment on column sms.recipient_delivery.missing_since is
    'NULL while the campaign''s latest answer lists it; else when an answer later than its last observation did not (UTC). Such rows are left out of sms.fact_recipient_delivery.';
