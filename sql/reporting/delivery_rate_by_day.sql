-- The delivery-rate chart on sms/campaign_delivery: per UTC day of the last :days days and
-- vendor, delivered / total over the campaigns of that day, by the day rule of
-- sms.daily_delivery (first message sent, else scheduled, else created). It picks the
-- campaigns of those days first and reads each one's counts through sms.campaign_delivery
-- (OFFSET 0: planned per campaign, so the id reaches inside the view), so it costs what
-- those days hold, not the whole history.
with recent as (
    select
        provider,
        campaign_id,
        (coalesce(sent_at, scheduled_at, created_at) at time zone 'UTC')::date as day
    from sms.dim_campaign
)

select
    r.day,
    r.provider,
    sum(c.delivered)::numeric / nullif(sum(c.total), 0) as delivery_rate
from recent as r
cross join lateral (
    select v.total, v.delivered
    from sms.campaign_delivery as v
    where v.provider = r.provider and v.campaign_id = r.campaign_id
    offset 0
) as c
where r.day > current_date - cast(:days as integer)
  and r.day <= current_date  -- campaigns scheduled for later have nothing to show yet
group by r.day, r.provider
having sum(c.total) > 0
order by r.day, r.provider;
