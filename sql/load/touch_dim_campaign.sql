-- An answer identical to the last one loaded was fetched at :observed_at: the campaign was
-- polled (last_polled_at moves) but nothing else changed.
update sms.dim_campaign
set last_polled_at = :observed_at
where provider = :provider and campaign_id = :campaign_id and last_polled_at < :observed_at;
