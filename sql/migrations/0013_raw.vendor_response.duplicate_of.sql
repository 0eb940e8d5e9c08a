-- raw.vendor_response.duplicate_of — an answer byte for byte identical (same content_hash)
-- to one already landed for the same campaign and endpoint is kept by reference: its row
-- still records the request and its answer (fetched_at, status, headers, run), and
-- duplicate_of names the row holding those same bytes, which are not stored twice.
alter table raw.vendor_response
    add column duplicate_of bigint references raw.vendor_response (response_id);

do $$
declare
    name text;
begin
    for name in
        select conname from pg_constraint
        where conrelid = 'raw.vendor_response'::regclass
          and contype = 'c'
          and pg_get_constraintdef(oid) like '%payload IS NOT NULL%'
    loop
        execute format('alter table raw.vendor_response drop constraint %I', name);
    end loop;
end
$$;

alter table raw.vendor_response
    add constraint vendor_response_bytes_kept
    check (payload is not null or body is not null or duplicate_of is not null);

create index vendor_response_same_bytes_idx
    on raw.vendor_response (provider, campaign_id, endpoint, content_hash)
    where duplicate_of is null;
