-- Delivery rate per vendor and UTC day over the last :days days (campaigns by the day they
-- were sent, as sms.daily_delivery counts them), for the delivery mart's chart.
select
    day,
    provider,
    sum(delivered)::numeric / nullif(sum(total), 0) as delivery_rate
from sms.daily_delivery
where day > current_date - cast(:days as integer)
  and day <= current_date  -- campaigns scheduled for later have nothing to show yet
group by day, provider
having sum(total) > 0
order by day, provider;
