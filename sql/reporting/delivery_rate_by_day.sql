-- Delivery rate per vendor and UTC day over the last :days days (campaigns by the day they
-- were sent, as sms.daily_delivery counts them), for the delivery mart's chart. "Today" is
-- the UTC date too, whatever the session's TimeZone.
with today as (
    select (now() at time zone 'UTC')::date as day
)

select
    d.day,
    d.provider,
    sum(delivered)::numeric / nullif(sum(total), 0) as delivery_rate
from sms.daily_delivery as d, today as t
where d.day > t.day - cast(:days as integer)
  and d.day <= t.day  -- campaigns scheduled for later have nothing to show yet
group by d.day, d.provider
having sum(total) > 0
order by d.day, d.provider;
