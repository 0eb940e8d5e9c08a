-- Roles: sms_analyst reads the sms schema and nothing else (no raw answers, no quarantine);
-- sms_loader is what the pipeline can run as once the schema is migrated (it reads and
-- writes raw and sms, and reads meta; it changes no schema). Both are group roles (NOLOGIN):
-- grant them to login users, e.g. `grant sms_analyst to alice;`.
--
-- Roles belong to the whole server: they are created here only where the connecting user
-- may create roles (a superuser, or CREATEROLE), and only if they do not exist yet. Where
-- it may not, this says so (a NOTICE) and grants nothing: an administrator creates the two
-- roles (docs: README, "Roles") and runs the migrations again, or grants by hand.
do $$
declare
    may_create boolean := (
        select rolsuper or rolcreaterole from pg_roles where rolname = current_user
    );
begin
    if not exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        if not may_create then
            raise notice 'sms_analyst and sms_loader were not created: % may not create roles. '
                'Ask an administrator to run: create role sms_analyst nologin; '
                'create role sms_loader nologin; then apply the migrations again.',
                current_user;
            return;
        end if;
        create role sms_analyst nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'sms_loader') then
        if not may_create then
            raise notice 'sms_loader was not created: % may not create roles', current_user;
            return;
        end if;
        create role sms_loader nologin;
    end if;

    -- Analysts: the sms schema, read only, now and for relations created later by the
    -- user running the migrations.
    grant usage on schema sms to sms_analyst;
    grant select on all tables in schema sms to sms_analyst;
    alter default privileges in schema sms grant select on tables to sms_analyst;
    revoke all on schema raw from sms_analyst;
    revoke all on all tables in schema raw from sms_analyst;

    -- The pipeline: raw and sms, read and write; meta (the migration record), read.
    grant usage on schema raw, sms, meta to sms_loader;
    grant select, insert, update, delete on all tables in schema raw, sms to sms_loader;
    grant select on all tables in schema meta to sms_loader;
    grant usage, select on all sequences in schema raw, sms to sms_loader;
    alter default privileges in schema raw, sms
        grant select, insert, update, delete on tables to sms_loader;
    alter default privileges in schema raw, sms grant usage, select on sequences to sms_loader;
end
$$;
