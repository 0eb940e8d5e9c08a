-- sms.dim_campaign — grain: one row per (provider, campaign_id), both vendors, as last read.
create table sms.dim_campaign (
    provider           text not null check (provider in ('nixflex', 'smsfactor')),
    campaign_id        text not null,
    name               text,
    sender             text,
    message_text       text,
    status             text,
    created_at         timestamptz,
    scheduled_at       timestamptz,
    sent_at            timestamptz,
    cost               numeric,
    reported_total     integer,
    reported_delivered integer,
    reported_failed    integer,
    reported_pending   integer,
    first_seen_at      timestamptz not null,
    last_polled_at     timestamptz not null,
    primary key (provider, campaign_id)
);
