-- sms.failure_reasons — grain: one row per (day, provider, account, reason): why messages
-- failed. Nixflex: failed recipients (failed, undelivered, sent-but-never-confirmed) by the
-- error message Twilio gave, or by their status when it gave none, on the day each left
-- (UTC; else its campaign's day, as in sms.daily_delivery). SMSFactor reports no reason per
-- message, only counters: 'operator error' (error), 'expired', 'network error'
-- (network_error), from each campaign's latest counters, on the campaign's day.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.failure_reasons as
with campaign_day as (
    select
        provider,
        campaign_id,
        account,
        (coalesce(sent_at, scheduled_at, created_at) at time zone 'UTC')::date as day
    from sms.dim_campaign
),

nixflex as (
    select
        coalesce((f.sent_at at time zone 'UTC')::date, c.day)              as day,
        f.provider,
        c.account,
        coalesce(nullif(f.error_message, ''), 'no error message: ' || f.status) as reason,
        count(*)::bigint                                                  as messages,
        count(distinct f.campaign_id)::bigint                             as campaigns
    from sms.fact_recipient_delivery as f
    join campaign_day as c using (provider, campaign_id)
    where f.delivery_bucket = 'failed'
    group by 1, 2, 3, 4
),

latest_counters as (
    select distinct on (campaign_id) *
    from sms.fact_campaign_counters
    order by campaign_id, observed_at desc
),

smsfactor as (
    select
        c.day,
        'smsfactor'::text                                as provider,
        c.account,
        r.reason,
        sum(r.messages)::bigint                          as messages,
        count(*)::bigint                                 as campaigns
    from latest_counters as l
    join campaign_day as c on c.provider = 'smsfactor' and c.campaign_id = l.campaign_id
    cross join lateral (
        values
            ('operator error', l.error),
            ('expired', l.expired),
            ('network error', l.network_error)
    ) as r (reason, messages)
    where r.messages > 0
    group by 1, 2, 3, 4
)

select * from nixflex where day is not null
union all
select * from smsfactor where day is not null;

comment on view sms.failure_reasons is
    'One row per (day, provider, account, reason): why messages failed. Nixflex by Twilio''s error message (or the status, when it gave none), on the day each message left; SMSFactor by counter (operator error, expired, network error), from each campaign''s latest counters, on the campaign''s day.';
comment on column sms.failure_reasons.day is 'The UTC day the messages were sent (Nixflex: each message; SMSFactor: its campaign, as in sms.daily_delivery).';
comment on column sms.failure_reasons.provider is 'nixflex or smsfactor.';
comment on column sms.failure_reasons.account is 'The vendor account.';
comment on column sms.failure_reasons.reason is 'The error message or counter.';
comment on column sms.failure_reasons.messages is 'Failed messages with this reason.';
comment on column sms.failure_reasons.campaigns is 'Campaigns with at least one of them that day.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.failure_reasons to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.failure_reasons to sms_loader;
    end if;
end
$$;
