-- Partitions of the two month-partitioned tables for this month and the next two (UTC
-- months, "two months later" counted on the UTC calendar whatever the session's TimeZone),
-- made where missing; returns how many were made. Run by the loader before each load (it
-- costs two catalog lookups per month when they exist), so rows never wait in a default
-- partition. See sql/migrations/0026_raw.ensure_month_partitions.sql.
with span as (
    select
        now() as first,
        (now() at time zone 'UTC' + interval '2 months') at time zone 'UTC' as last
)

select
    raw.ensure_month_partitions('raw.vendor_response', 'fetched_at', first, last)
    + raw.ensure_month_partitions('sms.recipient_status_transition', 'observed_at', first, last)
        as made
from span;
