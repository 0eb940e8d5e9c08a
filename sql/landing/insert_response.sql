-- Land one answer (status pending): its exact bytes (as body_encoding says), or a
-- reference (duplicate_of) to an earlier answer with the same bytes; :vendor_ok, whether the
-- vendor said it succeeded (landing.land: the client's verdict).
insert into raw.vendor_response (
    provider, endpoint, request_path, request_params, campaign_id, http_status,
    content_type, headers, fetched_at, content_hash, body, body_encoding, run_id, account,
    duplicate_of, vendor_ok
) values (
    :provider, :endpoint, :path, cast(:params as jsonb), :campaign_id, :http_status,
    :content_type, cast(:headers as jsonb), :fetched_at, :content_hash,
    :body, :body_encoding, :run_id, :account, :duplicate_of, :vendor_ok
)
returning response_id;
