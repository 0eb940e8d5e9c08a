-- raw.vendor_response.body — from now on every answer is landed as its exact bytes (JSON
-- included; `payload` jsonb stays for answers landed before), so the loader reads back what
-- the vendor sent, byte for byte, and landing costs no JSON parse. Compression: lz4 where the
-- server has it (fast both ways); elsewhere none, because pglz on answers of several MB costs
-- more time than the disk it saves (the embedded server has no lz4).
do $$
begin
    if exists (
        select 1 from pg_settings
        where name = 'default_toast_compression' and 'lz4' = any(enumvals)
    ) then
        alter table raw.vendor_response alter column body set compression lz4;
    else
        alter table raw.vendor_response alter column body set storage external;
    end if;
end
$$;
