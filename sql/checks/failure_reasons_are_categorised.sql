-- Rule: every failed Nixflex recipient's reason maps to a failure category
-- (sms.failure_category_map: a Twilio code its error_message carries, the message's text,
-- or the status sent). Those that map to nothing count as other in
-- sms.failures_by_category; this lists their reasons per campaign, with how many messages,
-- so a row can be added to sql/views/70_sms.failure_category_map.sql.
-- No rows = pass. Severity: WARN (the messages are counted, only their category is unknown).
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
with in_scope as (
    select campaign_id from sms.campaign_poll_state
    where provider = 'nixflex'
      and (cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz))
),

failed as (
    select
        provider,
        campaign_id,
        status,
        error_message,
        count(*) as messages
    from sms.fact_recipient_delivery
    where delivery_bucket = 'failed'
      and campaign_id in (select campaign_id from in_scope)
    group by provider, campaign_id, status, error_message
)

select
    f.provider,
    f.campaign_id,
    coalesce(nullif(f.error_message, ''), 'no error message: ' || f.status) as reason,
    sum(f.messages)::bigint                                                 as messages
from failed as f
where not exists (
    select 1
    from sms.failure_category_map as m
    where m.provider = 'nixflex'
      and (
          (m.reason_kind = 'twilio_code'
           and f.error_message ~ ('(^|[^0-9])' || m.pattern || '([^0-9]|$)'))
          or (m.reason_kind = 'error_message' and f.error_message ilike m.pattern)
          or (m.reason_kind = 'status' and f.status = m.pattern)
      )
)
group by 1, 2, 3
order by f.campaign_id, reason;
