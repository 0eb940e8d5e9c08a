-- Rule (Nixflex, documented on the get page): total/delivered/failed/pending_count are
-- "computed from per-recipient status, never from cached fields". Lists every Nixflex
-- campaign whose last reported counts differ from the counts recomputed from its recipients
-- (sms.campaign_delivery applies the documented rule). No rows = pass. Severity: ERROR.
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
with in_scope as (
    select campaign_id from sms.campaign_poll_state
    where provider = 'nixflex'
      and (cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz))
)

select
    d.provider,
    d.campaign_id,
    d.reported_total,     c.total     as recomputed_total,
    d.reported_delivered, c.delivered as recomputed_delivered,
    d.reported_failed,    c.failed    as recomputed_failed,
    d.reported_pending,   c.pending   as recomputed_pending
from sms.dim_campaign as d
join sms.campaign_delivery as c using (provider, campaign_id)
where d.provider = 'nixflex'
  and d.campaign_id in (select campaign_id from in_scope)
  and (d.reported_total, d.reported_delivered, d.reported_failed, d.reported_pending)
      is distinct from
      (c.total, c.delivered, c.failed, c.pending)
order by d.campaign_id;
