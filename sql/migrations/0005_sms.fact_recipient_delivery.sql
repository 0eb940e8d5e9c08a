-- sms.fact_recipient_delivery — grain: one row per Nixflex (campaign_id, phone): the
-- recipient's latest known state. An observation older than status_changed_at never
-- overwrites the row (statuses can arrive out of order).
create table sms.fact_recipient_delivery (
    provider          text not null default 'nixflex' check (provider = 'nixflex'),
    campaign_id       text not null,
    phone             text not null,
    status            text not null,
    delivery_bucket   text not null
                      check (delivery_bucket in ('delivered', 'failed', 'pending', 'unknown')),
    twilio_sid        text,
    error_message     text,
    rendered_message  text,
    variables         jsonb,
    sent_at           timestamptz,
    first_seen_at     timestamptz not null,
    status_changed_at timestamptz not null,
    primary key (campaign_id, phone)
);

create index fact_recipient_delivery_bucket_idx
    on sms.fact_recipient_delivery (campaign_id, delivery_bucket);
