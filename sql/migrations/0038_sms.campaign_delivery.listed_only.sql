-- sms.campaign_delivery, same columns and rule (see 0008 and 0017), now counts a Nixflex
-- campaign's recipients through sms.fact_recipient_delivery, so only those its latest
-- answer lists (migration 0036): a recipient the vendor no longer lists (or a phone number
-- under an old pseudonym) no longer counts, and sms.daily_delivery, which counts through
-- this view, follows. Its definition named the view, but 0021 renamed the table the name
-- then meant (views follow the relation, not the name), so it counted from the table
-- sms.recipient_delivery itself. Counting one campaign stays an index-only scan of its key
-- range (the key's index carries missing_since, migration 0035).
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
