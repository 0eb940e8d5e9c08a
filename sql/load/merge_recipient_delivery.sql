-- Merge staged recipients into sms.recipient_delivery (the table behind the view
-- sms.fact_recipient_delivery): insert new ones (their first observation), update a held
-- row only when something really changed and the observation is newer than its last
-- change. A row's status_changed_at and first_status stay NULL until its status first
-- changes (migration 0021). Returns how many recipients were new.
with merged as (
    insert into sms.recipient_delivery as f (
        campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
        rendered_message, variables, sent_at, first_seen_at
    )
    select
        campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
        rendered_message, variables, sent_at, first_seen_at
    from stage_recipient
    on conflict (campaign_id, phone) do update set
        status            = excluded.status,
        delivery_bucket   = excluded.delivery_bucket,
        twilio_sid        = excluded.twilio_sid,
        error_message     = excluded.error_message,
        rendered_message  = excluded.rendered_message,
        variables         = excluded.variables,
        sent_at           = excluded.sent_at,
        -- Staged first_seen_at is this observation's time.
        status_changed_at = case
            when f.status is distinct from excluded.status then excluded.first_seen_at
            else f.status_changed_at
        end,
        -- Until the first change, the status held is the first one.
        first_status      = coalesce(f.first_status, f.status)
    where coalesce(f.status_changed_at, f.first_seen_at) < excluded.first_seen_at
      and (f.status, f.twilio_sid, f.error_message, f.rendered_message, f.variables, f.sent_at)
          is distinct from
          (excluded.status, excluded.twilio_sid, excluded.error_message,
           excluded.rendered_message, excluded.variables, excluded.sent_at)
    -- xmax is 0 on a row this statement inserted, set on one it updated.
    returning (f.xmax = 0) as inserted
)
select count(*) filter (where inserted) as new_recipients from merged;
