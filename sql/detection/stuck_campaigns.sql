-- Rule (check campaigns_are_not_stuck): no campaign still has messages pending
-- :stuck_after_hours hours (24 by default) after it started sending (its sent_at; one that
-- never started: its scheduled time). Pending by the documented counting rules, from
-- sms.campaign_outcome (Nixflex: recipients pending or queued; SMSFactor: total - delivered
-- - failed - npai). Lists each stuck campaign with its segment (provider/account/sender),
-- its pending messages and how long since it started sending (segment as in
-- delivery_rate_by_segment.sql: a phone-number sender by its last four digits). An
-- SMSFactor campaign the vendor Denied never sends: its status says so, it is not stuck.
-- No rows = pass.
-- Severity: WARN. Scope: every campaign with messages pending, after a sync and in
-- full_checks alike (a partial index on sms.campaign_outcome holds only those: the cost
-- follows how many campaigns are still in flight, not the warehouse's size).
-- In psql: \set as_of now() \set stuck_after_hours 24
select
    d.provider,
    d.campaign_id,
    d.account,
    d.sender,
    d.provider || '/' || d.account || '/'
    || case when d.sender ~ '^\+[0-9]{8,15}$' then '…' || right(d.sender, 4)
            else coalesce(d.sender, '') end                                    as segment,
    d.name,
    d.status,
    coalesce(d.sent_at, d.scheduled_at)                                          as sending_since,
    sum(o.messages)::bigint                                                      as pending_messages,
    round(extract(epoch from cast(:as_of as timestamptz)
                             - coalesce(d.sent_at, d.scheduled_at))::numeric / 3600, 1)
                                                                                 as hours_pending
from sms.campaign_outcome as o
join sms.dim_campaign as d using (provider, campaign_id)
where o.outcome = 'pending'
  and o.messages > 0
  and not (d.provider = 'smsfactor' and d.status = 'Denied')
  and coalesce(d.sent_at, d.scheduled_at)
      <= cast(:as_of as timestamptz)
         - cast(:stuck_after_hours as double precision) * interval '1 hour'
group by d.provider, d.campaign_id, d.account, d.sender, d.name, d.status, d.sent_at,
         d.scheduled_at
order by hours_pending desc, d.provider, d.campaign_id;
