-- sms.daily_cost — grain: one row per (day, provider, account, sender), both vendors: the
-- campaigns sent that day (UTC; for one not sent yet, the day it is scheduled for, else the
-- day it was created, as in sms.daily_delivery, so the two join on their four keys), their
-- cost as the vendor reports it (SMSFactor: SMS credits, see sms.campaign_cost; Nixflex
-- reports no cost: NULL), delivered messages and credits per delivered message. A campaign
-- whose cost is NULL (unreadable) adds its delivered messages to `delivered` but not to the
-- denominator of cost_credits_per_delivered, which counts only campaigns with a cost
-- (campaigns_with_cost says how many). Reads no session setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.daily_cost as
with campaigns as (
    select
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        c.provider,
        c.account,
        c.sender,
        c.cost_credits,
        c.delivered
    from sms.campaign_cost as c
    join sms.dim_campaign as d using (provider, campaign_id)
),

final as (
    select
        day,
        provider,
        account,
        sender,
        count(*)                                                 as campaigns,
        count(cost_credits)                                      as campaigns_with_cost,
        sum(cost_credits)                                        as cost_credits,
        sum(delivered)::bigint                                   as delivered,
        sum(delivered) filter (where cost_credits is not null)   as delivered_with_cost
    from campaigns
    where day is not null
    group by day, provider, account, sender
)

select
    day,
    provider,
    account,
    sender,
    campaigns,
    campaigns_with_cost,
    cost_credits,
    delivered,
    case when delivered_with_cost > 0 then cost_credits / delivered_with_cost end
        as cost_credits_per_delivered
from final;

comment on view sms.daily_cost is
    'One row per (day, provider, account, sender), both vendors: campaigns sent that day (UTC; else their scheduled or creation day), their cost as reported (SMSFactor, in SMS credits; Nixflex reports none: NULL), delivered messages and credits per delivered message.';
comment on column sms.daily_cost.day is 'The UTC day the campaigns were sent (or scheduled, or created), as in sms.daily_delivery.';
comment on column sms.daily_cost.provider is 'nixflex or smsfactor.';
comment on column sms.daily_cost.account is 'The vendor account.';
comment on column sms.daily_cost.sender is 'The sender (number or name).';
comment on column sms.daily_cost.campaigns is 'Campaigns in the row.';
comment on column sms.daily_cost.campaigns_with_cost is 'Those whose cost the vendor reported and the warehouse could read (0 for Nixflex).';
comment on column sms.daily_cost.cost_credits is 'Their cost in SMS credits (SMSFactor), summed; not money. NULL for Nixflex, which reports no cost.';
comment on column sms.daily_cost.delivered is 'Their delivered messages, summed (as in sms.campaign_delivery).';
comment on column sms.daily_cost.cost_credits_per_delivered is 'cost_credits / the delivered messages of the campaigns with a cost, exact (not rounded); NULL when that is 0 or no campaign has a cost (always for Nixflex).';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.daily_cost to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.daily_cost to sms_loader;
    end if;
end
$$;
