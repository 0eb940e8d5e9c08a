-- The content hash of the last answer of the same campaign and endpoint that was loaded
-- before the given one (NULL when there is none): equal bytes mean nothing to re-flatten.
select response_id, content_hash
from raw.vendor_response
where provider = :provider
  and campaign_id = :campaign_id
  and endpoint = :endpoint
  and load_status = 'loaded'
  and (fetched_at, response_id) < (:fetched_at, :response_id)
order by fetched_at desc, response_id desc
limit 1;
