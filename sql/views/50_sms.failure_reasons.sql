-- sms.failure_reasons — grain: one row per (day, provider, account, reason): why messages
-- failed. Nixflex: failed recipients (failed, undelivered, sent-but-never-confirmed) by the
-- error message Twilio gave, or by their status when it gave none, on the day each left
-- (UTC; else its campaign's day, as in sms.daily_delivery). SMSFactor reports no reason per
-- message, only counters: 'operator error' (error), 'expired', 'network error'
-- (network_error), from each campaign's latest counters, on the campaign's day. Both are
-- read from sms.campaign_outcome (failed rows), which the loader keeps per campaign from
-- those facts, so the view reads a few rows per campaign, not its messages.
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
        case when o.sent then o.message_day else c.day end                  as day,
        o.provider,
        c.account,
        coalesce(nullif(o.reason, ''), 'no error message: ' || o.status)    as reason,
        sum(o.messages)::bigint                                             as messages,
        count(distinct o.campaign_id)::bigint                               as campaigns
    from sms.campaign_outcome as o
    join campaign_day as c using (provider, campaign_id)
    where o.provider = 'nixflex' and o.outcome = 'failed'
    group by 1, 2, 3, 4
),

smsfactor as (
    select
        c.day,
        o.provider,
        c.account,
        case o.reason
            when 'error' then 'operator error'
            when 'network_error' then 'network error'
            else o.reason
        end                                                   as reason,
        sum(o.messages)::bigint                               as messages,
        count(*)::bigint                                      as campaigns
    from sms.campaign_outcome as o
    join campaign_day as c using (provider, campaign_id)
    where o.provider = 'smsfactor' and o.outcome = 'failed' and o.messages > 0
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
