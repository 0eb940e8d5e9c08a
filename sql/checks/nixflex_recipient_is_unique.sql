-- Rule: a Nixflex campaign lists each phone once, so (campaign_id, phone) is a key. The
-- loader keeps the first occurrence and quarantines the others; this lists campaigns whose
-- latest loaded answer repeated a phone. No rows = pass. Severity: ERROR.
with latest_answer as (
    select distinct on (campaign_id)
        campaign_id,
        response_id
    from raw.vendor_response
    where provider = 'nixflex'
      and endpoint = 'campaign.get'
      and load_status = 'loaded'
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
