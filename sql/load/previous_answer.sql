-- The answer of the same campaign and endpoint fetched just before the given one, whatever
-- its load status: the given answer has nothing new when that one is loaded and has the
-- same content hash. (Looking at the previous answer, not the last loaded one, keeps this
-- right whatever order answers are loaded in.)
select response_id, content_hash, load_status
from raw.vendor_response
where provider = :provider
  and campaign_id = :campaign_id
  and endpoint = :endpoint
  and (fetched_at, response_id) < (:fetched_at, :response_id)
order by fetched_at desc, response_id desc
limit 1;
