-- A campaign seen for the first time: every recipient just copied into
-- sms.fact_recipient_delivery is a first observation (from_status NULL).
insert into sms.fact_recipient_status_change
    (provider, campaign_id, phone, from_status, to_status, observed_at)
select 'nixflex', campaign_id, phone, null, status, first_seen_at
from sms.fact_recipient_delivery
where campaign_id = :campaign_id;
