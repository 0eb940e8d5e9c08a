-- raw.vendor_response: each vendor's latest successful answer (the data_is_fresh check,
-- every 15 minutes) found from an index instead of a scan of every answer ever landed.
create index vendor_response_ok_time_idx
    on raw.vendor_response (provider, fetched_at)
    where http_status between 200 and 299;
