-- Append one sms.recipient_status_transition row per staged recipient already held whose
-- status differs from the one held. Runs before the merge into sms.recipient_delivery,
-- which it reads as "the previous state". A recipient not held yet needs no row: its first
-- observation is its fact row. An observation older than the last change is ignored
-- (statuses can arrive out of order). Staged first_seen_at is this observation's time.
insert into sms.recipient_status_transition
    (provider, campaign_id, phone, from_status, to_status, observed_at)
select 'nixflex', s.campaign_id, s.phone, f.status, s.status, s.first_seen_at
from stage_recipient as s
join sms.recipient_delivery as f
    on f.campaign_id = s.campaign_id and f.phone = s.phone
where f.status is distinct from s.status
  and coalesce(f.status_changed_at, f.first_seen_at) < s.first_seen_at
on conflict do nothing;
