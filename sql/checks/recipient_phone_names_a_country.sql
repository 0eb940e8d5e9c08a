-- Rule: every Nixflex recipient's phone names a country. The loader derives the country
-- (sms.fact_recipient_delivery.country, ISO 3166-1 alpha-2) from the number as received
-- with the phonenumbers library; a number it cannot parse ('not a number'), or one that
-- names no country (an unassigned calling code such as +999, a non-geographic one such as
-- +800, a range no numbering plan assigns), gets NULL. This lists, per campaign, how many
-- recipients have no country (they count under country NULL in
-- sms.daily_delivery_by_country). Rows loaded before the column existed hold NULL too until
-- `make replay` rebuilds them.
-- No rows = pass. Severity: WARN (the messages are counted, only their country is unknown).
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
with in_scope as (
    select campaign_id from sms.campaign_poll_state
    where provider = 'nixflex'
      and (cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz))
)

select
    provider,
    campaign_id,
    count(*) filter (where country is null) as phones_without_country,
    count(*)                                as recipients
from sms.fact_recipient_delivery
where campaign_id in (select campaign_id from in_scope)
group by provider, campaign_id
having count(*) filter (where country is null) > 0
order by campaign_id;
