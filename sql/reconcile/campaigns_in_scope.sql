-- The campaigns facts_match_latest_answer compares, and how many were in scope: every
-- campaign loaded since :since (NULL: every campaign ever loaded), or a random sample of
-- :sample of them when there are more (the check says so in its result).
with in_scope as (
    select provider, campaign_id
    from sms.campaign_poll_state
    where last_loaded_at is not null
      and (cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz))
)

select provider, campaign_id, count(*) over () as in_scope
from in_scope
order by random()
limit :sample;
