-- Answers waiting to be loaded (of one provider, or all), oldest first, with the size of
-- their body (read from the TOAST pointer: the body itself is not fetched).
select response_id, provider, endpoint, campaign_id, octet_length(body) as body_bytes
from raw.vendor_response
where load_status = 'pending'
  and (cast(:provider as text) is null or provider = :provider)
order by fetched_at, response_id;
