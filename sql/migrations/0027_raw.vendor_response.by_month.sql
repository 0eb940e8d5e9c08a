-- raw.vendor_response becomes partitioned by month of fetched_at (Postgres declarative
-- partitioning; partitions partitions.vendor_response_YYYY_MM, made ahead of time by the loader
-- through raw.ensure_month_partitions, and partitions.vendor_response_default as a safety
-- net).
-- Why: the landing grows by every answer of every poll for years; a month is the unit a
-- retention policy deletes (a partition dropped, no row-by-row delete and no bloat), and
-- questions over recent answers read recent partitions only.
--
-- What changes for anyone reading it: nothing in its columns or rows. Its primary key is
-- now (response_id, fetched_at), as Postgres requires the partition key in every unique
-- key; response_id stays unique (one sequence gives it). The two foreign keys that pointed
-- at response_id (raw.quarantine.response_id and raw.vendor_response.duplicate_of) cannot
-- point at a partitioned table's part of a key, so they go: the loader writes both in the
-- transaction that reads the answer, and a retention policy keeps what they need (see
-- pipelines/warehouse/retention.py). The rows are copied once into the new table: on a
-- large landing this migration takes as long as copying it.
alter table raw.quarantine drop constraint if exists quarantine_response_id_fkey;
alter table raw.vendor_response drop constraint if exists vendor_response_duplicate_of_fkey;

alter table raw.vendor_response rename to vendor_response_unpartitioned;
alter index raw.vendor_response_pending_idx rename to vendor_response_unpartitioned_pending_idx;
alter index raw.vendor_response_campaign_idx rename to vendor_response_unpartitioned_campaign_idx;
alter index raw.vendor_response_same_bytes_idx
    rename to vendor_response_unpartitioned_same_bytes_idx;

create table raw.vendor_response (
    like raw.vendor_response_unpartitioned
    including defaults including constraints including storage including compression
    including comments
) partition by range (fetched_at);

create sequence raw.vendor_response_id_seq as bigint;
select setval(
    'raw.vendor_response_id_seq',
    coalesce((select max(response_id) from raw.vendor_response_unpartitioned), 0) + 1,
    false
);
alter table raw.vendor_response
    alter column response_id set default nextval('raw.vendor_response_id_seq');
alter sequence raw.vendor_response_id_seq owned by raw.vendor_response.response_id;
alter table raw.vendor_response add primary key (response_id, fetched_at);

create table partitions.vendor_response_default partition of raw.vendor_response default;
comment on table partitions.vendor_response_default is
    'raw.vendor_response, answers of a month that had no partition yet (none expected): read it through raw.vendor_response.';
select raw.ensure_month_partitions(
    'raw.vendor_response',
    'fetched_at',
    coalesce((select min(fetched_at) from raw.vendor_response_unpartitioned), now()),
    now() + interval '2 months'
);

insert into raw.vendor_response select * from raw.vendor_response_unpartitioned;
drop table raw.vendor_response_unpartitioned;

create index vendor_response_pending_idx
    on raw.vendor_response (provider, fetched_at, response_id)
    where load_status = 'pending';
create index vendor_response_campaign_idx
    on raw.vendor_response (provider, campaign_id, fetched_at);
create index vendor_response_same_bytes_idx
    on raw.vendor_response (provider, campaign_id, endpoint, content_hash)
    where duplicate_of is null;

comment on table raw.vendor_response is
    'Every HTTP answer fetched from a vendor, landed before anything reads it: the bytes as received (body, per body_encoding), content_hash (sha256), and load_status pending, loaded or quarantined. Partitioned by month of fetched_at (UTC).';
