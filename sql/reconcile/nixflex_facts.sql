-- What the warehouse holds of one Nixflex campaign: its status and reported counts, and its
-- counted recipients per status (sms.fact_recipient_delivery).
select
    d.status,
    d.reported_total,
    d.reported_delivered,
    d.reported_failed,
    d.reported_pending,
    coalesce(
        (select jsonb_object_agg(s.status, s.recipients)
         from (select f.status, count(*) as recipients
               from sms.fact_recipient_delivery as f
               where f.campaign_id = d.campaign_id
               group by f.status) as s),
        '{}'::jsonb
    ) as recipients_by_status
from sms.dim_campaign as d
where d.provider = 'nixflex' and d.campaign_id = :campaign_id;
