-- When the latest loaded answer of Nixflex campaign :c was fetched (no row: never loaded).
select last_polled_at from sms.dim_campaign where provider = 'nixflex' and campaign_id = :c;
