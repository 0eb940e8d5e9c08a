-- sms.campaign_delivery — grain: one row per (provider, campaign_id), both vendors.
-- Nixflex: recomputed from recipients by the documented rule (delivery_bucket), never from
-- the vendor's reported counts. SMSFactor: from the latest counters snapshot: failed ←
-- error + expired + network_error; pending ← total − delivered − failed − npai (npai
-- numbers are filtered out before sending, so they are neither). as_of: when the data
-- behind the row was last fetched.
create view sms.campaign_delivery as
with nixflex_counts as (
    select
        campaign_id,
        count(*)                                             as total,
        count(*) filter (where delivery_bucket = 'delivered') as delivered,
        count(*) filter (where delivery_bucket = 'failed')    as failed,
        count(*) filter (where delivery_bucket = 'pending')   as pending,
        count(*) filter (where delivery_bucket = 'unknown')   as unknown
    from sms.fact_recipient_delivery
    group by campaign_id
),

latest_counters as (
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
        coalesce(n.total, 0)     as total,
        coalesce(n.delivered, 0) as delivered,
        coalesce(n.failed, 0)    as failed,
        coalesce(n.pending, 0)   as pending,
        coalesce(n.unknown, 0)   as unknown,
        d.last_polled_at         as as_of
    from sms.dim_campaign as d
    left join nixflex_counts as n using (campaign_id)
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
