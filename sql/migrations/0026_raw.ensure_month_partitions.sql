-- raw.ensure_month_partitions(parent, key, first, last) — makes sure the range-partitioned
-- table `parent` (partitioned by month of its timestamptz column `key`, months in UTC) has a
-- partition for every month from `first` to `last`, named partitions.<table>_YYYY_MM;
-- returns how many it made. Rows that had gone to the partitions.<table>_default partition
-- for such a month (a month that came before its partition was made) move into it.
--
-- Partitions live in their own schema, `partitions`, which no analyst role may use: BI
-- tools that list the sms schema show the relations analysts query, not one table per
-- month, and a month of raw answers is no easier to read than raw itself. Everyone reads
-- and writes them through their parent table.
--
-- The loader calls it before each load for this month and the next two, so partitions are
-- always there ahead of time; the default partition is only a safety net. It runs with the
-- rights of its owner (the user who ran the migrations: SECURITY DEFINER), so a pipeline
-- connected as sms_loader, which may change no schema, can still have next month's
-- partition made; for that reason it refuses any table but the two partitioned ones.
create schema partitions;
comment on schema partitions is
    'Month partitions of raw.vendor_response and sms.recipient_status_transition: read them through those tables.';

create function raw.ensure_month_partitions(
    parent regclass, key text, first timestamptz, last timestamptz
) returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    month timestamptz := date_trunc('month', first, 'UTC');
    next_month timestamptz;
    schema_name text;
    table_name text;
    parent_name text := parent::text;
    part text;
    made integer := 0;
begin
    if parent not in ('raw.vendor_response'::regclass, 'sms.recipient_status_transition'::regclass)
        or key not in ('fetched_at', 'observed_at') then
        raise exception 'ensure_month_partitions: % is not a table partitioned by month', parent;
    end if;
    select n.nspname, c.relname into schema_name, table_name
    from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    where c.oid = parent;

    while month <= last loop
        next_month := month + interval '1 month';
        part := table_name || '_' || to_char(month at time zone 'UTC', 'YYYY_MM');
        if to_regclass(format('partitions.%I', part)) is null then
            execute format(
                'create table partitions.%I (like %I.%I including defaults including '
                'constraints including storage including compression including comments)',
                part, schema_name, table_name
            );
            execute format(
                'with moved as (delete from partitions.%I where %I >= $1 and %I < $2 '
                'returning *) insert into partitions.%I select * from moved',
                table_name || '_default', key, key, part
            ) using month, next_month;
            execute format(
                'alter table %I.%I attach partition partitions.%I for values from (%L) to (%L)',
                schema_name, table_name, part, month, next_month
            );
            execute format(
                'comment on table partitions.%I is %L', part,
                format('%s, month %s (UTC): read it through %s.', parent_name,
                       to_char(month at time zone 'UTC', 'YYYY-MM'), parent_name)
            );
            made := made + 1;
        end if;
        month := next_month;
    end loop;
    return made;
end
$$;

revoke execute on function raw.ensure_month_partitions(regclass, text, timestamptz, timestamptz)
    from public;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant execute
            on function raw.ensure_month_partitions(regclass, text, timestamptz, timestamptz)
            to sms_loader;
    end if;
end
$$;
