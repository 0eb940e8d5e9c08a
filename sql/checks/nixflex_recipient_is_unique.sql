-- Rule: a Nixflex campaign lists each phone once, so (campaign_id, phone) is a key. The
-- loader keeps the first occurrence and quarantines the others; this lists campaigns whose
-- latest loaded answer repeated a phone. No rows = pass. Severity: ERROR.
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
with in_scope as (
    select campaign_id from sms.campaign_poll_state
    where provider = 'nixflex'
      and (cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz))
),

latest_answer as (
    select distinct on (campaign_id)
        campaign_id,
        response_id
    from raw.vendor_response
    where provider = 'nixflex'
      and endpoint = 'campaign.get'
      and load_status = 'loaded'
      and campaign_id in (select campaign_id from in_scope)
    order by campaign_id, fetched_at desc, response_id desc
)

select
    q.provider,
    q.campaign_id,
    count(*) as repeated_recipients
from raw.quarantine as q
join latest_answer as a using (response_id)
where q.kind = 'duplicate_recipient'
group by q.provider, q.campaign_id
order by q.campaign_id;
