-- sms.daily_delivery, same columns and rows, now reads only the campaigns of the days a
-- query asks for. Before, a filter on `day` (the analysts' "last week") was applied after
-- sms.campaign_delivery had counted the recipients of every campaign ever sent: seconds at
-- tens of millions of recipients, and JIT compilation on top on Postgres servers where it
-- is on (bench-scale). Now the days come from sms.dim_campaign first, and each campaign of
-- those days is counted through sms.campaign_delivery on its own (a lateral subquery with
-- OFFSET 0 is planned per campaign, so the campaign id reaches the view's index path).
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
