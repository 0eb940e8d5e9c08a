-- Rule: every Nixflex recipient status is one the vendor documents (pending, queued, sent,
-- delivered, undelivered, failed). Others (Twilio's canceled, read, accepted…) are kept in
-- the 'unknown' delivery bucket and counted in the total; this lists them per campaign.
-- No rows = pass. Severity: ERROR (the counting rule cannot place those recipients).
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
with in_scope as (
    select campaign_id from sms.campaign_poll_state
    where provider = 'nixflex'
      and (cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz))
)

select
    provider,
    campaign_id,
    status,
    count(*) as recipients
from sms.fact_recipient_delivery
where delivery_bucket = 'unknown'
  and campaign_id in (select campaign_id from in_scope)
group by provider, campaign_id, status
order by campaign_id, status;
