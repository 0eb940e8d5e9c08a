-- sms.fact_recipient_status_change — grain: one row per observed change of a Nixflex
-- recipient's status; the first observation has from_status NULL.
create table sms.fact_recipient_status_change (
    provider    text not null default 'nixflex' check (provider = 'nixflex'),
    campaign_id text not null,
    phone       text not null,
    from_status text,
    to_status   text not null,
    observed_at timestamptz not null,
    primary key (campaign_id, phone, observed_at)
);

create index fact_recipient_status_change_time_idx
    on sms.fact_recipient_status_change (observed_at);
