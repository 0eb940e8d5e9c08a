-- Rule: every Nixflex recipient status is one the vendor documents (pending, queued, sent,
-- delivered, undelivered, failed). Others (Twilio's canceled, read, accepted…) are kept in
-- the 'unknown' delivery bucket and counted in the total; this lists them per campaign.
-- No rows = pass. Severity: ERROR (the counting rule cannot place those recipients).
select
    provider,
    campaign_id,
    status,
    count(*) as recipients
from sms.fact_recipient_delivery
where delivery_bucket = 'unknown'
group by provider, campaign_id, status
order by campaign_id, status;
