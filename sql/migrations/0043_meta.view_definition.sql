-- meta.view_definition — grain: one row per file of sql/views/ (a view's current definition,
-- its comments and grants): the checksum of the file as last applied. `migrate` applies the
-- files of sql/views/ again only when one is new or its checksum differs, so an up-to-date
-- warehouse costs one read. In meta: the pipeline (sms_loader) reads it, analysts do not.
create table meta.view_definition (
    name       text primary key,
    checksum   text not null,
    applied_at timestamptz not null default now()
);

comment on table meta.view_definition is
    'The files of sql/views/ applied to this warehouse (one per view), with the checksum of each as applied: a new or changed file is applied at the next migrate.';
comment on column meta.view_definition.name is 'The file name without .sql, e.g. 30_sms.campaign_delivery.';
comment on column meta.view_definition.checksum is 'sha256 of the file''s text as applied.';
comment on column meta.view_definition.applied_at is 'When the file was last applied.';

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select on meta.view_definition to sms_loader;
    end if;
end
$$;
