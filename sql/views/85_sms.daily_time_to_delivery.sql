-- sms.daily_time_to_delivery — grain: one row per (day, provider) of Nixflex campaigns: the
-- percentiles of their recipients' time to delivery, "at most" as
-- sms.recipient_time_to_delivery bounds it (first poll that saw the message delivered -
-- sent_at; a recipient delivered when first seen is not measured), over the campaigns of
-- that day (the UTC day of sms.daily_delivery: the campaign's first message, else its
-- scheduled or creation day). Read from the histogram sms.campaign_delivery_time, which the
-- loader keeps per campaign: a percentile is the upper bound of the bucket that holds it,
-- i.e. the bucket of percentile_disc over the exact times, at least the exact value and
-- less than 10 % above it (buckets are 1.1 apart). Reads no session setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.daily_time_to_delivery as
with buckets as (
    select
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        d.provider,
        t.seconds_at_most,
        sum(t.recipients)                                                         as recipients
    from sms.campaign_delivery_time as t
    join sms.dim_campaign as d using (provider, campaign_id)
    group by 1, 2, 3
),

cumulative as (
    select
        day,
        provider,
        seconds_at_most,
        sum(recipients) over (partition by day, provider order by seconds_at_most) as up_to,
        sum(recipients) over (partition by day, provider)                          as measured
    from buckets
)

select
    day,
    provider,
    max(measured)::bigint                                         as delivered_measured,
    min(seconds_at_most) filter (where up_to >= 0.50 * measured)  as p50_seconds,
    min(seconds_at_most) filter (where up_to >= 0.90 * measured)  as p90_seconds,
    min(seconds_at_most) filter (where up_to >= 0.99 * measured)  as p99_seconds
from cumulative
where day is not null
group by day, provider;

comment on view sms.daily_time_to_delivery is
    'One row per (day, provider) of Nixflex campaigns sent that day (UTC; else their scheduled or creation day): percentiles of the time to delivery (at most, as sms.recipient_time_to_delivery bounds it), each the upper bound of its histogram bucket: at least the exact percentile, less than 10 % above it.';
comment on column sms.daily_time_to_delivery.day is 'The UTC day the campaigns were sent (or scheduled, or created), as in sms.daily_delivery.';
comment on column sms.daily_time_to_delivery.provider is 'Always nixflex (SMSFactor reports no time per message).';
comment on column sms.daily_time_to_delivery.delivered_measured is 'Recipients measured: those of sms.recipient_time_to_delivery (delivered now, not when first seen).';
comment on column sms.daily_time_to_delivery.p50_seconds is 'Median time to delivery (at most), in seconds: the upper bound of the bucket holding it (less than 10 % above the exact value).';
comment on column sms.daily_time_to_delivery.p90_seconds is '90th percentile, in seconds, read the same way.';
comment on column sms.daily_time_to_delivery.p99_seconds is '99th percentile, in seconds, read the same way.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.daily_time_to_delivery to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.daily_time_to_delivery to sms_loader;
    end if;
end
$$;
