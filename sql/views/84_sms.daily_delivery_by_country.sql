-- sms.daily_delivery_by_country — grain: one row per (day, provider, account, sender,
-- country): Nixflex recipients by bucket and by their country (ISO 3166-1 alpha-2, from the
-- phone number at load; NULL when the number names none, or for rows loaded before the
-- warehouse recorded it), with the day of sms.daily_delivery (the UTC day the campaign's
-- first message left, else the day it is scheduled for, else the day it was created), so
-- that summed over countries a row equals the Nixflex row of sms.daily_delivery (a day whose
-- campaigns have no recipient at all has no row here). Read from
-- sms.campaign_outcome, which the loader keeps per campaign from sms.fact_recipient_delivery
-- (recipients the campaign's latest answer lists). SMSFactor reports no recipient, so no
-- country: not here. Reads no session setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.daily_delivery_by_country as
with final as (
    select
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        d.provider,
        d.account,
        d.sender,
        o.country,
        sum(o.messages)::bigint                                                 as total,
        coalesce(sum(o.messages) filter (where o.outcome = 'delivered'), 0)::bigint
                                                                                as delivered,
        coalesce(sum(o.messages) filter (where o.outcome = 'failed'), 0)::bigint  as failed,
        coalesce(sum(o.messages) filter (where o.outcome = 'pending'), 0)::bigint as pending,
        coalesce(sum(o.messages) filter (where o.outcome = 'unknown'), 0)::bigint as unknown
    from sms.campaign_outcome as o
    join sms.dim_campaign as d using (provider, campaign_id)
    where o.provider = 'nixflex'
    group by 1, 2, 3, 4, 5
)

select
    *,
    case when total > 0 then delivered::numeric / total end as delivery_rate
from final
where day is not null;

comment on view sms.daily_delivery_by_country is
    'One row per (day, provider, account, sender, country) of Nixflex campaigns sent that day (UTC; else their scheduled or creation day, as in sms.daily_delivery): recipients by bucket and country.';
comment on column sms.daily_delivery_by_country.day is 'The UTC day the campaigns were sent (or scheduled, or created), as in sms.daily_delivery.';
comment on column sms.daily_delivery_by_country.provider is 'Always nixflex (SMSFactor reports no recipient).';
comment on column sms.daily_delivery_by_country.account is 'The vendor account.';
comment on column sms.daily_delivery_by_country.sender is 'The sender (number or name).';
comment on column sms.daily_delivery_by_country.country is 'The recipients'' country (ISO 3166-1 alpha-2) from their phone numbers; NULL when the number names none (or was loaded before the warehouse recorded countries).';
comment on column sms.daily_delivery_by_country.total is 'Recipients (those each campaign''s latest answer lists).';
comment on column sms.daily_delivery_by_country.delivered is 'Delivered.';
comment on column sms.daily_delivery_by_country.failed is 'Failed: failed + undelivered + sent (never confirmed).';
comment on column sms.daily_delivery_by_country.pending is 'Not final yet: pending + queued.';
comment on column sms.daily_delivery_by_country.unknown is 'In an undocumented status (counted in total).';
comment on column sms.daily_delivery_by_country.delivery_rate is 'delivered / total, a fraction from 0 to 1; NULL when total is 0.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.daily_delivery_by_country to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.daily_delivery_by_country to sms_loader;
    end if;
end
$$;
