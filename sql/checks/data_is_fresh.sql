-- Rule: each vendor that has ever answered has answered successfully in the last 30 minutes
-- (two missed 15-minute polls). Successfully: the vendor said so (raw.vendor_response.
-- vendor_ok: HTTP 2xx and, for SMSFactor, no negative status in the body, which it sends on
-- HTTP 200 too; the HTTP status alone for an answer the landing did not write). Lists stale
-- vendors. No rows = pass. Severity: WARN.
-- Each vendor's latest successful answer is one backward step of the partial index
-- vendor_response_vendor_ok_time_idx per month partition, however large the landing grows.
select
    p.provider,
    null::text as campaign_id,
    latest.fetched_at as last_successful_fetch
from (values ('nixflex'), ('smsfactor')) as p (provider)
cross join lateral (
    select max(r.fetched_at) as fetched_at
    from raw.vendor_response as r
    where r.provider = p.provider
      and coalesce(r.vendor_ok, r.http_status between 200 and 299)
) as latest
where latest.fetched_at < now() - interval '30 minutes'
order by p.provider;
