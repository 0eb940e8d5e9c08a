-- Append one sms.fact_recipient_status_change row per staged recipient whose status differs
-- from the one held (from_status NULL for a first sighting). Runs before the merge into
-- sms.fact_recipient_delivery, which it reads as "the previous state". An observation older
-- than the last change is ignored (statuses can arrive out of order).
insert into sms.fact_recipient_status_change
    (provider, campaign_id, phone, from_status, to_status, observed_at)
select 'nixflex', s.campaign_id, s.phone, f.status, s.status, s.observed_at
from stage_recipient as s
left join sms.fact_recipient_delivery as f
    on f.campaign_id = s.campaign_id and f.phone = s.phone
where f.phone is null
   or (f.status is distinct from s.status and f.status_changed_at < s.observed_at)
on conflict do nothing;
