-- Rule: a Nixflex campaign lists each phone once, so (campaign_id, phone) is a key. The
-- loader keeps the first occurrence and quarantines the others; this lists campaigns whose
-- latest loaded answer repeated a phone. The latest answer may have been recorded as
-- unchanged (the same bytes as the answer before it: not read again, so nothing of it is
-- quarantined): the repeats are then those quarantined when the same bytes of the campaign
-- were last read. No rows = pass. Severity: ERROR.
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
        content_hash
    from raw.vendor_response
    where provider = 'nixflex'
      and endpoint = 'campaign.get'
      and load_status = 'loaded'
      and campaign_id in (select campaign_id from in_scope)
    order by campaign_id, fetched_at desc, response_id desc
),

repeats_per_read as (
    select
        q.provider,
        q.campaign_id,
        r.content_hash,
        q.response_id,
        count(*) as repeated_recipients
    from raw.quarantine as q
    join raw.vendor_response as r using (response_id)
    where q.kind = 'duplicate_recipient'
      and q.provider = 'nixflex'
      and q.campaign_id in (select campaign_id from in_scope)
    group by q.provider, q.campaign_id, r.content_hash, q.response_id
)

select distinct on (p.campaign_id)
    p.provider,
    p.campaign_id,
    p.repeated_recipients
from repeats_per_read as p
join latest_answer as a
    on a.campaign_id = p.campaign_id and a.content_hash = p.content_hash
order by p.campaign_id, p.response_id desc;
