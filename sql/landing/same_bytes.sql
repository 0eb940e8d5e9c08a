-- An answer already landed for this campaign and endpoint with exactly these bytes.
select response_id
from raw.vendor_response
where provider = :provider
  and campaign_id = :campaign_id
  and endpoint = :endpoint
  and content_hash = :content_hash
  and duplicate_of is null
order by response_id desc
limit 1;
