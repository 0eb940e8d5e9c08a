-- Rule (inferred, NOT documented): SMSFactor's delivery_rate is delivered / total × 100; the
-- seed example fits it. Lists latest snapshots where the vendor's rate is one point or more
-- away from that (rounding either way stays under one point). No rows = pass.
-- Severity: WARN, because the vendor never documented its formula.
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
with in_scope as (
    select campaign_id from sms.campaign_poll_state
    where provider = 'smsfactor'
      and (cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz))
),

latest as (
    select distinct on (campaign_id) *
    from sms.fact_campaign_counters
    where campaign_id in (select campaign_id from in_scope)
    order by campaign_id, observed_at desc
)

select
    provider,
    campaign_id,
    observed_at,
    delivery_rate                                   as vendor_rate,
    round(100.0 * delivered / total, 2)             as delivered_over_total
from latest
where total > 0
  and delivery_rate is not null
  and abs(delivery_rate - 100.0 * delivered / total) >= 1
order by campaign_id;
