-- Month partitions made with wrong bounds are rebuilt as UTC months, every row kept once.
-- Before 0034, raw.ensure_month_partitions stepped from month to month in the caller's
-- TimeZone: on a server or role set to Europe/Paris it made, for example,
-- partitions.vendor_response_2024_03 for [2024-03-01 00:00, 2024-03-31 23:00) UTC and a
-- partition named 2024_04 holding [2024-04-30 23:00, 2024-05-31 23:00), so April's answers
-- went to the default partition and retention, which deletes months by partition name,
-- would have deleted the wrong hours.
--
-- For both month-partitioned tables (raw.vendor_response by fetched_at,
-- sms.recipient_status_transition by observed_at): every partition
-- partitions.<table>_YYYY_MM whose bounds are not [YYYY-MM-01 00:00 UTC, the next month's
-- first instant UTC) is detached; the month its name says, and the UTC month of every row
-- it held or the default partition holds, get their partition made by
-- raw.ensure_month_partitions (which moves the default partition's rows into it); the rows
-- of the detached tables go back through the parent table, into the partition of their UTC
-- month; the detached tables are dropped. Nothing is done where every bound is right (every
-- warehouse migrated in UTC). Every bound below is computed in UTC explicitly, whatever the
-- TimeZone of the session applying it.
do $$
declare
    parents constant text[] := array['raw.vendor_response', 'sms.recipient_status_transition'];
    keys constant text[] := array['fetched_at', 'observed_at'];
    n integer;
    parent regclass;
    table_name text;
    columns text;
    wrong record;
    detached text[];
    months timestamptz[];
    month timestamptz;
    source text;
    found timestamptz[];
begin
    for n in 1 .. array_length(parents, 1) loop
        parent := parents[n]::regclass;
        table_name := split_part(parents[n], '.', 2);
        detached := '{}';
        months := '{}';
        for wrong in
            select c.relname::text as part, m.start as month_start
            from pg_inherits as i
            join pg_class as c on c.oid = i.inhrelid
            cross join lateral regexp_match(
                pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)'
            ) as b (bound)
            cross join lateral (
                select to_date(right(c.relname, 7), 'YYYY_MM')::timestamp as start_utc
            ) as s
            cross join lateral (
                select
                    s.start_utc at time zone 'UTC' as start,
                    (s.start_utc + interval '1 month') at time zone 'UTC' as stop
            ) as m
            where i.inhparent = parent
              and c.relname ~ '_[0-9]{4}_[0-9]{2}$'
              and (b.bound[1]::timestamptz <> m.start or b.bound[2]::timestamptz <> m.stop)
        loop
            execute format('alter table %s detach partition partitions.%I', parent, wrong.part);
            execute format(
                'alter table partitions.%I rename to %I', wrong.part, wrong.part || '_misbounded'
            );
            detached := detached || (wrong.part || '_misbounded');
            months := months || wrong.month_start;
        end loop;
        if cardinality(detached) = 0 then
            continue;
        end if;
        raise notice '%: % month partitions had bounds other than UTC months; rebuilt',
            parents[n], cardinality(detached);

        foreach source in array detached || (table_name || '_default') loop
            execute format(
                'select array_agg(distinct date_trunc(''month'', %I, ''UTC'')) from partitions.%I',
                keys[n], source
            ) into found;
            months := months || coalesce(found, '{}');
        end loop;
        for month in select distinct m from unnest(months) as u (m) order by 1 loop
            perform raw.ensure_month_partitions(parent, keys[n], month, month);
        end loop;

        select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into columns
        from pg_attribute as a
        where a.attrelid = parent and a.attnum > 0 and not a.attisdropped;
        foreach source in array detached loop
            execute format(
                'insert into %s (%s) select %s from partitions.%I', parent, columns, columns, source
            );
            execute format('drop table partitions.%I', source);
        end loop;
    end loop;
end
$$;
