-- Rule (SMSFactor): delivered + error + expired + network_error + npai <= total, since total
-- counts "messages before filtering". Checked on each campaign's latest snapshot.
-- No rows = pass. Severity: ERROR.
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
    total,
    delivered + error + expired + network_error + npai as accounted
from latest
where delivered + error + expired + network_error + npai > total
order by campaign_id;
