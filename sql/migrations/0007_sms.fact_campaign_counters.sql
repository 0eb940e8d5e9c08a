-- sms.fact_campaign_counters — grain: one row per SMSFactor (campaign_id, observed_at), written
-- only when the counters differ from the campaign's previous snapshot. delivery_rate is the
-- vendor's own figure (a percentage, formula undocumented); cost as the vendor gave it.
create table sms.fact_campaign_counters (
    provider      text not null default 'smsfactor' check (provider = 'smsfactor'),
    campaign_id   text not null,
    observed_at   timestamptz not null,
    status        text,
    total         integer not null,
    delivered     integer not null,
    error         integer not null,
    expired       integer not null,
    network_error integer not null,
    stop          integer not null,
    npai          integer not null,
    delivery_rate numeric,
    cost          numeric,
    primary key (campaign_id, observed_at)
);
