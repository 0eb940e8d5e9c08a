-- Land one campaign answer by reference (duplicate_of, no body) when an answer with exactly
-- the same bytes was already landed for this campaign and endpoint; no row, and nothing
-- landed, when there is none (the answer is then landed with its bytes by
-- insert_response.sql). One statement, so that polling an unchanged campaign costs one
-- round trip.
insert into raw.vendor_response (
    provider, endpoint, request_path, request_params, campaign_id, http_status,
    content_type, headers, fetched_at, content_hash, body, body_encoding, run_id, account,
    duplicate_of, vendor_ok
)
select
    :provider, :endpoint, :path, cast(:params as jsonb), :campaign_id, :http_status,
    :content_type, cast(:headers as jsonb), :fetched_at, :content_hash,
    null, 'identity', :run_id, :account, same.response_id, :vendor_ok
from (
    select response_id
    from raw.vendor_response
    where provider = :provider
      and campaign_id = :campaign_id
      and endpoint = :endpoint
      and content_hash = :content_hash
      and duplicate_of is null
    order by response_id desc
    limit 1
) as same
returning response_id;
