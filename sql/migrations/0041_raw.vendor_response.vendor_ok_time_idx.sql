-- raw.vendor_response: each vendor's latest answer that really succeeded (vendor_ok, 0040;
-- the HTTP status where it is NULL), for data_is_fresh every 15 minutes: one backward step
-- of this index per month partition. It replaces the index on the HTTP status alone.
drop index raw.vendor_response_ok_time_idx;

create index vendor_response_vendor_ok_time_idx
    on raw.vendor_response (provider, fetched_at)
    where coalesce(vendor_ok, http_status between 200 and 299);
