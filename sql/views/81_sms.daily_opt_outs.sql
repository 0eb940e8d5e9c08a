-- sms.daily_opt_outs — grain: one row per (day, provider, account, sender) of SMSFactor
-- campaigns: their STOP replies and npai (unusable) numbers summed from
-- sms.campaign_opt_outs (each campaign's latest counters snapshot), with rates over the
-- summed total. The day is the UTC day the campaign was sent (for one not sent yet, the day
-- it is scheduled for, else the day it was created), as in sms.daily_delivery, so the two
-- join on (day, provider, account, sender). Rates are exact numeric fractions (not rounded),
-- NULL when total is 0. Reads no session setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.daily_opt_outs as
with campaigns as (
    select
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        o.provider,
        o.account,
        o.sender,
        o.total,
        o.stop,
        o.npai
    from sms.campaign_opt_outs as o
    join sms.dim_campaign as d using (provider, campaign_id)
),

final as (
    select
        day,
        provider,
        account,
        sender,
        count(*)            as campaigns,
        sum(total)::bigint  as total,
        sum(stop)::bigint   as stop,
        sum(npai)::bigint   as npai
    from campaigns
    where day is not null
    group by day, provider, account, sender
)

select
    *,
    case when total > 0 then stop::numeric / total end as stop_rate,
    case when total > 0 then npai::numeric / total end as npai_rate
from final;

comment on view sms.daily_opt_outs is
    'One row per (day, provider, account, sender) of SMSFactor campaigns sent that day (UTC; else their scheduled or creation day): STOP replies and npai numbers, with rates over the total.';
comment on column sms.daily_opt_outs.day is 'The UTC day the campaigns were sent (or scheduled, or created), as in sms.daily_delivery.';
comment on column sms.daily_opt_outs.provider is 'Always smsfactor (Nixflex reports neither counter).';
comment on column sms.daily_opt_outs.account is 'The vendor account.';
comment on column sms.daily_opt_outs.sender is 'The sender (number or name).';
comment on column sms.daily_opt_outs.campaigns is 'Campaigns in the row.';
comment on column sms.daily_opt_outs.total is 'Their messages before filtering, summed.';
comment on column sms.daily_opt_outs.stop is 'Their STOP replies (opt-outs), summed.';
comment on column sms.daily_opt_outs.npai is 'Their npai (unusable) numbers, summed.';
comment on column sms.daily_opt_outs.stop_rate is 'stop / total, an exact fraction from 0 to 1 (not rounded); NULL when total is 0.';
comment on column sms.daily_opt_outs.npai_rate is 'npai / total, an exact fraction from 0 to 1 (not rounded); NULL when total is 0.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.daily_opt_outs to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.daily_opt_outs to sms_loader;
    end if;
end
$$;
