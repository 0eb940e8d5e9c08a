-- Append one sms.recipient_status_transition row per staged recipient already held whose
-- status differs from the one held, when this answer (fetched at :observed_at; staged
-- first_seen_at is that time) is newer than the recipient's last observation. Runs before
-- the merge into sms.recipient_delivery, which it reads as "the previous state". A
-- recipient not held yet needs no row: its first observation is its fact row.
-- The last observation: the row's own last_observed_at (first_seen_at until it is written
-- again), and, while the campaign's latest answer lists it (missing_since NULL), that
-- answer's time, :latest_answer_at (sms.dim_campaign.last_polled_at before this answer;
-- NULL for a campaign never loaded). An older answer, loaded late, records no change:
-- a recipient's changes are recorded in the order they were observed, never before one
-- already recorded.
insert into sms.recipient_status_transition
    (provider, campaign_id, phone, from_status, to_status, observed_at)
select 'nixflex', s.campaign_id, s.phone, f.status, s.status, s.first_seen_at
from stage_recipient as s
join sms.recipient_delivery as f
    on f.campaign_id = s.campaign_id and f.phone = s.phone
where f.status is distinct from s.status
  and greatest(
          coalesce(f.last_observed_at, f.first_seen_at),
          case when f.missing_since is null then cast(:latest_answer_at as timestamptz) end
      ) < s.first_seen_at
on conflict do nothing;
