-- sms.campaign_cost — grain: one row per (provider, campaign_id), both vendors, as in
-- sms.campaign_delivery: what the campaign cost as the vendor reports it, its delivered
-- messages and the cost per delivered message.
--
-- The unit is the vendor's: SMSFactor's `cost` is "the cost of your campaign" in SMS
-- credits, not money (its send answers give `cost` beside `credits`, "your credits after
-- your campaign has been created"; its documentation's example campaign of 1958 messages
-- costs "2128"; the same API at its sister platform SMSUp documents `cost` as "the number
-- of credits your campaign cost"; a text longer than 160 characters is sent as several
-- SMS). So the column is cost_credits: turn it into money with the price of credits in
-- your contract. It comes from the campaign's LATEST counters snapshot of
-- sms.fact_campaign_counters (greatest observed_at; NULL when the vendor's value could not
-- be read, see raw.quarantine kind unreadable_field). Nixflex reports no cost: NULL.
-- delivered: SMSFactor's latest snapshot, Nixflex its recipients by the documented rule,
-- both through sms.campaign_delivery (counted per campaign: a lateral subquery with OFFSET
-- 0, so a filter on the campaign reaches that view's index path). Reads no session setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.campaign_cost as
with campaigns as (
    select
        d.provider,
        d.account,
        d.campaign_id,
        d.sender,
        d.sent_at,
        c.cost      as cost_credits,
        v.delivered
    from sms.dim_campaign as d
    cross join lateral (
        select v.delivered
        from sms.campaign_delivery as v
        where v.provider = d.provider and v.campaign_id = d.campaign_id
        offset 0
    ) as v
    left join lateral (
        select f.cost
        from sms.fact_campaign_counters as f
        where d.provider = 'smsfactor' and f.campaign_id = d.campaign_id
        order by f.observed_at desc
        limit 1
    ) as c on true
)

select
    provider,
    account,
    campaign_id,
    sender,
    sent_at,
    cost_credits,
    delivered,
    case when delivered > 0 then cost_credits / delivered end as cost_credits_per_delivered
from campaigns;

comment on view sms.campaign_cost is
    'One row per (provider, campaign_id), both vendors: the cost the vendor reports (SMSFactor, in SMS credits; Nixflex reports none: NULL), delivered messages and credits per delivered message.';
comment on column sms.campaign_cost.provider is 'nixflex or smsfactor.';
comment on column sms.campaign_cost.account is 'The vendor account.';
comment on column sms.campaign_cost.campaign_id is 'The vendor''s campaign id.';
comment on column sms.campaign_cost.sender is 'The sender (number or name).';
comment on column sms.campaign_cost.sent_at is 'When the campaign was sent (UTC); NULL while not sent.';
comment on column sms.campaign_cost.cost_credits is 'SMSFactor: the campaign''s cost in SMS credits as the vendor reports it (its `cost`, from the latest counters snapshot; a text over 160 characters is sent as several SMS), not money; NULL when unreadable. NULL for Nixflex, which reports no cost.';
comment on column sms.campaign_cost.delivered is 'Delivered messages (as in sms.campaign_delivery).';
comment on column sms.campaign_cost.cost_credits_per_delivered is 'cost_credits / delivered, exact (not rounded); NULL when delivered is 0 or cost_credits is NULL (always for Nixflex).';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.campaign_cost to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.campaign_cost to sms_loader;
    end if;
end
$$;
