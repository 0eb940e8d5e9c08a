-- Rule: every vendor answer that was fetched ends loaded into the facts or quarantined with
-- its reason; nothing stays pending after a load. Lists answers still pending.
-- No rows = pass. Severity: ERROR.
-- Scope: :since NULL lists every pending answer; a time (the start of a sync's load) lists
-- those landed before it, which that load was due to read: an answer another run landed
-- while this one loaded waits for the next load, and is not this run's failure.
-- In psql: \set since null
select
    provider,
    campaign_id,
    response_id,
    endpoint,
    fetched_at
from raw.vendor_response
where load_status = 'pending'  -- the only other value (its check constraint): an index
  and (
      cast(:since as timestamptz) is null
      or coalesce(landed_at, '-infinity') < cast(:since as timestamptz)
  )
order by fetched_at, response_id;
