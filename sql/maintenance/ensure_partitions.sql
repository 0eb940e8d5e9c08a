-- Partitions of the two month-partitioned tables for this month and the next two (UTC),
-- made where missing; returns how many were made. Run by the loader before each load (it
-- costs two catalog lookups per month when they exist), so rows never wait in a default
-- partition. See sql/migrations/0026_raw.ensure_month_partitions.sql.
select
    raw.ensure_month_partitions(
        'raw.vendor_response', 'fetched_at', now(), now() + interval '2 months'
    )
    + raw.ensure_month_partitions(
        'sms.recipient_status_transition', 'observed_at', now(), now() + interval '2 months'
    ) as made;
