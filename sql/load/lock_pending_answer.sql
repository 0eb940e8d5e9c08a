-- Lock one pending answer for loading (its metadata only: the body is read when needed);
-- no row when another loader holds it or it is no longer pending.
select response_id, provider, endpoint, http_status, fetched_at, account, campaign_id,
       content_hash
from raw.vendor_response
where response_id = :id and load_status = 'pending'
for update skip locked;
