-- Answers waiting to be loaded (of one provider, or all), oldest first.
select response_id, provider, endpoint, campaign_id
from raw.vendor_response
where load_status = 'pending'
  and (cast(:provider as text) is null or provider = :provider)
order by fetched_at, response_id;
