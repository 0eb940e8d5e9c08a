-- sms.recipient_status_transition (the later changes behind sms.fact_recipient_status_change;
-- first observations live on sms.recipient_delivery, see migration 0015) becomes
-- partitioned by month of observed_at, like raw.vendor_response (migration 0027): partitions
-- partitions.recipient_status_transition_YYYY_MM made ahead of time by the loader, and
-- partitions.recipient_status_transition_default as a safety net. Its primary key already held
-- observed_at, so nothing about it changes; questions over a time range (the analysts'
-- "changes last week") read only the months they name.
--
-- The two views over it keep their definitions, comments and grants: they are dropped and
-- made again from their own stored text, around the swap. The rows are copied once.
do $$
declare
    views text[] := array['sms.fact_recipient_status_change', 'sms.recipient_time_to_delivery'];
    defs text[] := '{}';
    comments text[] := '{}';
    v text;
    i integer;
    col record;
    column_comments text[] := '{}';
begin
    foreach v in array views loop
        defs := defs || pg_get_viewdef(v::regclass);
        comments := comments || coalesce(obj_description(v::regclass, 'pg_class'), '');
        for col in
            select a.attname, col_description(a.attrelid, a.attnum) as note
            from pg_attribute as a
            where a.attrelid = v::regclass and a.attnum > 0 and not a.attisdropped
              and col_description(a.attrelid, a.attnum) is not null
        loop
            column_comments := column_comments
                || format('comment on column %s.%I is %L', v, col.attname, col.note);
        end loop;
    end loop;
    drop view sms.recipient_time_to_delivery;
    drop view sms.fact_recipient_status_change;

    alter table sms.recipient_status_transition rename to recipient_status_transition_unpartitioned;
    alter index sms.recipient_status_transition_pkey
        rename to recipient_status_transition_unpartitioned_pkey;
    alter index sms.recipient_status_transition_time_idx
        rename to recipient_status_transition_unpartitioned_time_idx;

    create table sms.recipient_status_transition (
        like sms.recipient_status_transition_unpartitioned
        including defaults including constraints including storage including compression
        including comments
    ) partition by range (observed_at);
    alter table sms.recipient_status_transition
        add constraint recipient_status_transition_pkey
        primary key (campaign_id, phone, observed_at);
    create table partitions.recipient_status_transition_default
        partition of sms.recipient_status_transition default;
    comment on table partitions.recipient_status_transition_default is
        'sms.recipient_status_transition, changes of a month that had no partition yet (none expected): read it through sms.fact_recipient_status_change.';
    perform raw.ensure_month_partitions(
        'sms.recipient_status_transition',
        'observed_at',
        coalesce(
            (select min(observed_at) from sms.recipient_status_transition_unpartitioned), now()
        ),
        now() + interval '2 months'
    );
    insert into sms.recipient_status_transition
    select * from sms.recipient_status_transition_unpartitioned;
    drop table sms.recipient_status_transition_unpartitioned;
    create index recipient_status_transition_time_idx
        on sms.recipient_status_transition (observed_at);

    for i in 1 .. array_length(views, 1) loop
        execute format('create view %s as %s', views[i], defs[i]);
        if comments[i] <> '' then
            execute format('comment on view %s is %L', views[i], comments[i]);
        end if;
    end loop;
    foreach v in array column_comments loop
        execute v;
    end loop;
end
$$;

comment on table sms.recipient_status_transition is
    'Storage behind sms.fact_recipient_status_change: one row per later, real change (from_status set). Query the view. Partitioned by month of observed_at (UTC).';
