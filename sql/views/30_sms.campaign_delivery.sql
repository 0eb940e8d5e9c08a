-- sms.campaign_delivery — grain: one row per (provider, campaign_id), both vendors: the
-- campaign's recipients by bucket, recomputed by each vendor's documented rule, never from
-- the counts the vendor reports. Nixflex: its recipients of sms.fact_recipient_delivery
-- (those its latest answer lists) by delivery_bucket, counted per campaign (a lateral
-- subquery over the (campaign_id, delivery_bucket) index, so a filter on the campaign
-- limits the recipients read). SMSFactor: its latest counters snapshot: failed = error +
-- expired + network_error; pending = total - delivered - failed - npai (npai numbers are
-- filtered out before sending, so they are neither). as_of: when the data behind the row
-- was last fetched.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.campaign_delivery as
with latest_counters as (
    select distinct on (campaign_id) *
    from sms.fact_campaign_counters
    order by campaign_id, observed_at desc
),

nixflex as (
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
        d.last_polled_at as as_of
    from sms.dim_campaign as d
    cross join lateral (
        select
            count(*)                                               as total,
            count(*) filter (where f.delivery_bucket = 'delivered') as delivered,
            count(*) filter (where f.delivery_bucket = 'failed')    as failed,
            count(*) filter (where f.delivery_bucket = 'pending')   as pending,
            count(*) filter (where f.delivery_bucket = 'unknown')   as unknown
        from sms.fact_recipient_delivery as f
        where f.campaign_id = d.campaign_id
    ) as n
    where d.provider = 'nixflex'
),

smsfactor as (
    select
        d.provider,
        d.campaign_id,
        d.name,
        d.status,
        d.created_at,
        c.total::bigint                                          as total,
        c.delivered::bigint                                      as delivered,
        (c.error + c.expired + c.network_error)::bigint          as failed,
        (c.total - c.delivered - (c.error + c.expired + c.network_error) - c.npai)::bigint
                                                                 as pending,
        0::bigint                                                as unknown,
        d.last_polled_at                                         as as_of
    from sms.dim_campaign as d
    join latest_counters as c using (campaign_id)
    where d.provider = 'smsfactor'
),

final as (
    select * from nixflex
    union all
    select * from smsfactor
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
    as_of
from final;

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
