-- Rule: each vendor that has ever answered has answered successfully in the last 30 minutes
-- (two missed 15-minute polls). Lists stale vendors. No rows = pass. Severity: WARN.
select
    provider,
    null::text      as campaign_id,
    max(fetched_at) as last_successful_fetch
from raw.vendor_response
where http_status between 200 and 299
group by provider
having max(fetched_at) < now() - interval '30 minutes'
order by provider;
