-- Rule (SMSFactor): delivered + error + expired + network_error + npai <= total, since total
-- counts "messages before filtering". Checked on each campaign's latest snapshot.
-- No rows = pass. Severity: ERROR.
with latest as (
    select distinct on (campaign_id) *
    from sms.fact_campaign_counters
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
