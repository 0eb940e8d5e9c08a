-- What the warehouse holds of one SMSFactor campaign: its status, and the counters of its
-- latest snapshot in sms.fact_campaign_counters (a snapshot is written when they change).
select
    c.status, c.total, c.delivered, c.error, c.expired, c.network_error, c.stop, c.npai
from sms.dim_campaign as d
join lateral (
    select *
    from sms.fact_campaign_counters as s
    where s.campaign_id = d.campaign_id
      and s.observed_at <= d.last_polled_at
    order by s.observed_at desc
    limit 1
) as c on true
where d.provider = 'smsfactor' and d.campaign_id = :campaign_id;
