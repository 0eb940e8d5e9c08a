-- meta.sms_privacy — grain: one row (or none, before the first load that reads it): which
-- privacy setting the rows of the sms schema were written with, and the rewrite under way
-- when a sync found the setting changed (pipelines/warehouse/pseudonymise.py). A setting
-- is 'as received' or 'pseudonymised:' followed by a keyed fingerprint of PHONE_HASH_SALT
-- (never the salt). In meta, not sms: analysts (sms_analyst) cannot read it; the pipeline
-- (sms_loader) reads and writes it.
create table meta.sms_privacy (
    only_row          boolean primary key default true check (only_row),
    written_with      text,
    recorded_at       timestamptz not null default now(),
    rewriting_to      text,
    rewritten_through text collate "C"
);

comment on table meta.sms_privacy is
    'Which privacy setting (PHONE_HASH_SALT, as a keyed fingerprint) the sms rows were written with; each sync rewrites sms to the configured setting before loading when they differ.';
comment on column meta.sms_privacy.written_with is
    'The setting every sms row was written with: ''as received'', or ''pseudonymised:<fingerprint of the salt>''. NULL: not known (rows loaded before this record existed).';
comment on column meta.sms_privacy.rewriting_to is
    'The setting a rewrite under way brings sms to; NULL when none is under way.';
comment on column meta.sms_privacy.rewritten_through is
    'The last Nixflex campaign_id (in "C" order) that rewrite has finished: a rewrite cut short resumes after it.';

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update on meta.sms_privacy to sms_loader;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        revoke all on meta.sms_privacy from sms_analyst;
    end if;
end
$$;
