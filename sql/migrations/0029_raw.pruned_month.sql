-- raw.pruned_month — grain: one row per month of raw.vendor_response deleted by the raw
-- retention setting (RAW_RETENTION_MONTHS): which month, how many answers it held, when.
-- The facts those answers produced stay; what is lost is the ability to rebuild them from
-- raw, so a full replay refuses to run once any month is listed here (README, "Retention").
create table raw.pruned_month (
    month     date primary key,
    answers   bigint not null,
    pruned_at timestamptz not null default now()
);

comment on table raw.pruned_month is
    'Months of raw.vendor_response deleted by RAW_RETENTION_MONTHS (their facts stay; a full replay can no longer rebuild them, so it refuses).';
