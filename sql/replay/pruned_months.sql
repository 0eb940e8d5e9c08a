-- The months of raw answers deleted by raw retention, oldest first (raw.pruned_month).
select month from raw.pruned_month order by month;
