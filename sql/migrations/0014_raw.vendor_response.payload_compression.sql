-- raw.vendor_response.payload — compressed with lz4 where the server was built with it
-- (most packaged Postgres 14+; not the embedded server): several times faster than the
-- default pglz to write and read back, for answers of a few MB. Elsewhere nothing changes.
do $$
begin
    if exists (
        select 1 from pg_settings
        where name = 'default_toast_compression' and 'lz4' = any(enumvals)
    ) then
        alter table raw.vendor_response alter column payload set compression lz4;
    end if;
end
$$;
