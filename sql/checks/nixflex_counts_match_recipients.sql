-- Rule (Nixflex, documented on the get page): total/delivered/failed/pending_count are
-- "computed from per-recipient status, never from cached fields". Lists every Nixflex
-- campaign whose last reported counts differ from the counts recomputed from its recipients
-- (sms.campaign_delivery applies the documented rule, reading the per-campaign totals
-- sms.campaign_outcome that the load keeps with the recipients; the check
-- aggregates_match_facts holds those totals to a recount of the recipients). Both come from
-- the campaign's latest answer: the reported counts are its own (sms.dim_campaign), and the
-- recipients counted are the ones it lists (sms.fact_recipient_delivery leaves out those it
-- does not list).
-- No rows = pass. Severity: ERROR.
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
-- Cost: each campaign in scope reads its own totals once, through the view's index path
-- (the lateral subquery with OFFSET 0 is planned per campaign, so the campaign id reaches
-- inside sms.campaign_delivery; joined plainly, the planner computes the whole view
-- first), so a check after a sync costs what that sync loaded, at any size.
with in_scope as materialized (
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
from in_scope as s
join sms.dim_campaign as d on d.provider = 'nixflex' and d.campaign_id = s.campaign_id
cross join lateral (
    select v.total, v.delivered, v.failed, v.pending
    from sms.campaign_delivery as v
    where v.provider = d.provider and v.campaign_id = d.campaign_id
    offset 0
) as c
where (d.reported_total, d.reported_delivered, d.reported_failed, d.reported_pending)
      is distinct from
      (c.total, c.delivered, c.failed, c.pending)
order by d.campaign_id;
