-- sms.campaign_delivery — grain: one row per (provider, campaign_id), both vendors: the
-- campaign's recipients by bucket, recomputed by each vendor's documented rule, never from
-- the counts the vendor reports, with the campaign's account, sender and UTC day. Counted
-- from sms.campaign_outcome, which the loader keeps per campaign in the transaction that
-- writes its facts (the check aggregates_match_facts recomputes it from them): Nixflex, its
-- recipients of sms.fact_recipient_delivery (those its latest answer lists) by
-- delivery_bucket; SMSFactor, its latest counters snapshot: failed = error + expired +
-- network_error; pending = total - delivered - failed - npai (npai numbers are filtered
-- out before sending, so they are neither). A campaign's rows are read through the table's
-- (provider, campaign_id) index (a lateral subquery), so a filter on the campaign or its
-- day reads only those campaigns. as_of: when the data behind the row was last fetched.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.campaign_delivery as
with counted as (
    select
        d.provider,
        d.campaign_id,
        d.name,
        d.status,
        d.created_at,
        n.total,
        n.delivered,
        n.failed,
        n.pending,
        n.unknown,
        d.last_polled_at                                                         as as_of,
        d.account,
        d.sender,
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        n.outcome_rows
    from sms.dim_campaign as d
    cross join lateral (
        select
            count(*)                                                              as outcome_rows,
            coalesce(sum(o.messages), 0)::bigint                                  as total,
            coalesce(sum(o.messages) filter (where o.outcome = 'delivered'), 0)::bigint
                                                                                  as delivered,
            coalesce(sum(o.messages) filter (where o.outcome = 'failed'), 0)::bigint as failed,
            coalesce(sum(o.messages) filter (where o.outcome = 'pending'), 0)::bigint
                                                                                  as pending,
            coalesce(sum(o.messages) filter (where o.outcome = 'unknown'), 0)::bigint
                                                                                  as unknown
        from sms.campaign_outcome as o
        where o.provider = d.provider and o.campaign_id = d.campaign_id
    ) as n
    -- A Nixflex campaign has a row even with no recipient; an SMSFactor one once it has
    -- counters.
    where d.provider = 'nixflex' or (d.provider = 'smsfactor' and n.outcome_rows > 0)
)

select
    provider,
    campaign_id,
    name,
    status,
    created_at,
    total,
    delivered,
    failed,
    pending,
    unknown,
    case when total > 0 then delivered::numeric / total end as delivery_rate,
    as_of,
    account,
    sender,
    day
from counted;

comment on view sms.campaign_delivery is
    'One row per (provider, campaign_id), both vendors: recipients by bucket, recomputed by each vendor''s documented rule (Nixflex from its recipients, never from the reported counts; SMSFactor from its latest counters).';
comment on column sms.campaign_delivery.provider is 'nixflex or smsfactor.';
comment on column sms.campaign_delivery.campaign_id is 'The vendor''s campaign id.';
comment on column sms.campaign_delivery.name is 'Campaign name (NULL for SMSFactor).';
comment on column sms.campaign_delivery.status is 'The vendor''s status word.';
comment on column sms.campaign_delivery.created_at is 'When the campaign was created (UTC).';
comment on column sms.campaign_delivery.total is 'Recipients (Nixflex) or messages before filtering (SMSFactor).';
comment on column sms.campaign_delivery.delivered is 'Delivered.';
comment on column sms.campaign_delivery.failed is 'Failed: Nixflex failed + undelivered + sent; SMSFactor error + expired + network_error.';
comment on column sms.campaign_delivery.pending is 'Not final yet: Nixflex pending + queued; SMSFactor total - delivered - failed - npai.';
comment on column sms.campaign_delivery.unknown is 'Nixflex recipients in an undocumented status (counted in total); 0 for SMSFactor.';
comment on column sms.campaign_delivery.delivery_rate is 'delivered / total, a fraction from 0 to 1; NULL when total is 0.';
comment on column sms.campaign_delivery.as_of is 'When the data behind the row was fetched (the campaign''s last poll, UTC).';
comment on column sms.campaign_delivery.account is 'The vendor account (sms.dim_campaign).';
comment on column sms.campaign_delivery.sender is 'The sender (number or name).';
comment on column sms.campaign_delivery.day is 'The campaign''s UTC day as sms.daily_delivery counts it: the day its first message left, else the day it is scheduled for, else the day it was created.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.campaign_delivery to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.campaign_delivery to sms_loader;
    end if;
end
$$;
