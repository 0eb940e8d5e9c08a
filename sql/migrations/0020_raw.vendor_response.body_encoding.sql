-- raw.vendor_response.body_encoding — how `body` holds the bytes received: 'identity' (as
-- they are) or 'zstd' (a Zstandard frame, for answers of 64 KB and more; see
-- pipelines/warehouse/bodies.py for why). Answers landed before are 'identity'.
-- A compressed body gains nothing from TOAST compression, so none is attempted (storage
-- external); small bodies are small.
alter table raw.vendor_response
    add column body_encoding text not null default 'identity'
        check (body_encoding in ('identity', 'zstd'));

alter table raw.vendor_response alter column body set storage external;
