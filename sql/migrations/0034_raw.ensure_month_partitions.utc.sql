-- raw.ensure_month_partitions steps from month to month in UTC whatever the caller's
-- TimeZone: `timestamptz + interval '1 month'` is computed in the session's zone, so on a
-- server or role set to Europe/Paris the month after 2024-03-01 00:00 UTC came out as
-- 2024-03-31 23:00 UTC (summer time began that night), April got no partition of its own
-- and its rows went to the default partition.
alter function raw.ensure_month_partitions(regclass, text, timestamptz, timestamptz)
    set timezone to 'UTC';
