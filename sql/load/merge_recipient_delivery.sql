-- Merge staged recipients (one answer of one campaign, fetched at the staged first_seen_at)
-- into sms.recipient_delivery (the table behind the view sms.fact_recipient_delivery).
-- :latest_answer_at is the campaign's latest answer loaded before this one
-- (sms.dim_campaign.last_polled_at; NULL for a campaign never loaded).
--   * A recipient not held is inserted (its first observation: first_seen_at is this
--     answer's time even when the answer is older than others loaded). When this answer is
--     older than the latest one, that one did not list the recipient: it is inserted as
--     missing since then.
--   * A held recipient is updated only when this answer is newer than its last observation
--     (see insert_status_transitions.sql), and then only when something really changed or
--     the row is marked missing (its last observation must move). Its last_observed_at
--     becomes this answer's time. Listed by the newest answer, it is not missing;
--     listed only by an older answer after it went missing, it is missing since the latest.
-- A row's status_changed_at and first_status stay NULL until its status first changes
-- (docs/data-model.md). A new recipient comes with its country (placed in the staging
-- table); a held one keeps the country it has. Returns how many recipients were new.
with merged as (
    insert into sms.recipient_delivery as f (
        campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
        rendered_message, variables, sent_at, first_seen_at, country, missing_since
    )
    select
        campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
        rendered_message, variables, sent_at, first_seen_at, country,
        case
            when first_seen_at < cast(:latest_answer_at as timestamptz)
                then cast(:latest_answer_at as timestamptz)
        end
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
        first_status      = coalesce(f.first_status, f.status),
        last_observed_at  = excluded.first_seen_at,
        -- excluded.missing_since: NULL when this answer is the newest, else the latest.
        missing_since     = case
            when excluded.missing_since is null then null
            when f.missing_since < excluded.first_seen_at then excluded.missing_since
            else f.missing_since
        end
    where greatest(
              coalesce(f.last_observed_at, f.first_seen_at),
              case when f.missing_since is null then cast(:latest_answer_at as timestamptz) end
          ) < excluded.first_seen_at
      and (f.missing_since is not null
           or (f.status, f.twilio_sid, f.error_message, f.rendered_message, f.variables,
               f.sent_at)
              is distinct from
              (excluded.status, excluded.twilio_sid, excluded.error_message,
               excluded.rendered_message, excluded.variables, excluded.sent_at))
    -- xmax is 0 on a row this statement inserted, set on one it updated.
    returning (f.xmax = 0) as inserted
)
select count(*) filter (where inserted) as new_recipients from merged;
