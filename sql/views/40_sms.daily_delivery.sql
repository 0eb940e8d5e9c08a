-- sms.daily_delivery — grain: one row per (day, provider, account, sender): the campaigns
-- whose first message left that day (UTC; for a campaign not sent yet, the day it is
-- scheduled for, else the day it was created), with their recipients by bucket as
-- sms.campaign_delivery counts them. The days come from sms.dim_campaign first, and each
-- campaign of those days is counted through sms.campaign_delivery on its own (a lateral
-- subquery with OFFSET 0 is planned per campaign, so the campaign id reaches that view's
-- index path): a filter on day reads only the campaigns of those days.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.daily_delivery as
with campaigns as (
    select
        d.provider,
        d.account,
        d.sender,
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        c.total,
        c.delivered,
        c.failed,
        c.pending,
        c.unknown
    from sms.dim_campaign as d
    cross join lateral (
        select v.total, v.delivered, v.failed, v.pending, v.unknown
        from sms.campaign_delivery as v
        where v.provider = d.provider and v.campaign_id = d.campaign_id
        offset 0
    ) as c
),

final as (
    select
        day,
        provider,
        account,
        sender,
        count(*)             as campaigns,
        sum(total)::bigint     as total,
        sum(delivered)::bigint as delivered,
        sum(failed)::bigint    as failed,
        sum(pending)::bigint   as pending,
        sum(unknown)::bigint   as unknown
    from campaigns
    where day is not null
    group by day, provider, account, sender
)

select
    *,
    case when total > 0 then delivered::numeric / total end as delivery_rate
from final;

comment on view sms.daily_delivery is
    'One row per (day, provider, account, sender): campaigns whose first message left that day (UTC; else their scheduled or creation day) and their recipients by bucket.';
comment on column sms.daily_delivery.day is 'The UTC day the campaigns were sent (or scheduled, or created).';
comment on column sms.daily_delivery.provider is 'nixflex or smsfactor.';
comment on column sms.daily_delivery.account is 'The vendor account.';
comment on column sms.daily_delivery.sender is 'The sender (number or name).';
comment on column sms.daily_delivery.campaigns is 'Campaigns in the row.';
comment on column sms.daily_delivery.total is 'Their total (as in sms.campaign_delivery).';
comment on column sms.daily_delivery.delivered is 'Delivered.';
comment on column sms.daily_delivery.failed is 'Failed.';
comment on column sms.daily_delivery.pending is 'Still pending.';
comment on column sms.daily_delivery.unknown is 'In an undocumented status (Nixflex).';
comment on column sms.daily_delivery.delivery_rate is 'delivered / total (0 to 1); NULL when total is 0.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.daily_delivery to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.daily_delivery to sms_loader;
    end if;
end
$$;
