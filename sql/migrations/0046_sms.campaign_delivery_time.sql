-- sms.campaign_delivery_time — grain: one row per (provider, campaign_id, seconds_at_most): a
-- histogram of the Nixflex recipients' time to delivery (the rule of
-- sms.recipient_time_to_delivery: listed by the campaign's latest answer, delivered now and
-- not when first seen, at most s = first poll that saw it delivered - sent_at seconds), kept
-- by the loader so that percentiles per day read a few rows per campaign.
--
-- Buckets are log-spaced: s counts in the bucket whose upper bound is
-- floor(1.1 ^ ceil(log_1.1 s)) seconds (0 s in the bucket 0). Every s of a bucket is more
-- than its upper bound / 1.1, so a percentile read as the upper bound of its bucket is at
-- least the exact one and less than 10 % above it. Only buckets holding recipients have a
-- row. The campaign's day is not stored: sms.daily_time_to_delivery joins sms.dim_campaign.
-- The loader rewrites a campaign's rows (sql/load/clear_campaign_aggregates.sql, then
-- insert_campaign_delivery_time.sql) in the transaction that writes its facts; the check
-- aggregates_match_facts recounts them.
--
-- This migration fills it for a warehouse that already holds facts: one INSERT … SELECT that
-- counts each Nixflex campaign on its own (a lateral subquery over the campaign's keys, so
-- its memory stays that of one campaign), reading the changes to delivered and the
-- recipients they concern once (docs/deployment.md, "Upgrades").
create table sms.campaign_delivery_time (
    provider        text not null check (provider = 'nixflex'),
    campaign_id     text collate "C" not null,
    seconds_at_most bigint not null check (seconds_at_most >= 0),
    recipients      bigint not null check (recipients > 0),
    primary key (provider, campaign_id, seconds_at_most)
);

comment on table sms.campaign_delivery_time is
    'Nixflex recipients per campaign by time to delivery (sms.recipient_time_to_delivery''s rule), in log-spaced buckets (upper bounds 1.1 apart: a bucket''s bound is less than 10 % above any time in it), kept by the loader in the transaction that writes the campaign''s facts. Read through sms.daily_time_to_delivery.';
comment on column sms.campaign_delivery_time.provider is 'Always nixflex (SMSFactor reports no time per message).';
comment on column sms.campaign_delivery_time.campaign_id is 'The Nixflex campaign (sms.dim_campaign).';
comment on column sms.campaign_delivery_time.seconds_at_most is 'The bucket''s upper bound in seconds: floor(1.1 ^ ceil(log_1.1 s)) for the recipients'' time to delivery s (0 for 0 s); each s in it is more than this / 1.1.';
comment on column sms.campaign_delivery_time.recipients is 'Recipients whose time to delivery (at most) falls in the bucket.';

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.campaign_delivery_time to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.campaign_delivery_time to sms_loader;
    end if;
end
$$;

insert into sms.campaign_delivery_time (provider, campaign_id, seconds_at_most, recipients)
select 'nixflex', d.campaign_id, m.seconds_at_most, m.recipients
from sms.dim_campaign as d
cross join lateral (
    select
        case when seconds < 1 then 0
             else floor(power(1.1::float8, ceil(ln(seconds::float8) / ln(1.1::float8))) + 1e-9)::bigint
        end         as seconds_at_most,
        count(*)    as recipients
    from (
        select extract(epoch from t.observed_at - f.sent_at)::bigint as seconds
        from sms.recipient_delivery as f
        join (
            select phone, min(observed_at) as observed_at
            from sms.recipient_status_transition
            where campaign_id = d.campaign_id and to_status = 'delivered'
            group by phone
        ) as t on t.phone = f.phone
        where f.campaign_id = d.campaign_id
          and f.status = 'delivered'
          and f.missing_since is null
          and coalesce(f.first_status, f.status) <> 'delivered'
          and f.sent_at is not null
          and t.observed_at >= f.sent_at
    ) as measured
    group by 1
) as m
where d.provider = 'nixflex';
