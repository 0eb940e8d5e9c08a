-- Rule: every vendor answer that was fetched ends loaded into the facts or quarantined with
-- its reason; nothing stays pending after a load. Lists answers still pending.
-- No rows = pass. Severity: ERROR.
select
    provider,
    campaign_id,
    response_id,
    endpoint,
    fetched_at
from raw.vendor_response
where load_status = 'pending'  -- the only other value (its check constraint): an index
order by fetched_at, response_id;
