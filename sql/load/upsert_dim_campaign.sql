-- Upsert one campaign into sms.dim_campaign from an answer fetched at :observed_at.
-- An older answer never overwrites a newer one; first_seen_at keeps the earliest sighting.
insert into sms.dim_campaign as d (
    provider, campaign_id, name, sender, message_text, status, created_at, scheduled_at,
    sent_at, cost, reported_total, reported_delivered, reported_failed, reported_pending,
    first_seen_at, last_polled_at, account
) values (
    :provider, :campaign_id, :name, :sender, :message_text, :status, :created_at,
    :scheduled_at, :sent_at, :cost, :reported_total, :reported_delivered, :reported_failed,
    :reported_pending, :observed_at, :observed_at, :account
)
on conflict (provider, campaign_id) do update set
    name               = excluded.name,
    sender             = excluded.sender,
    message_text       = excluded.message_text,
    status             = excluded.status,
    created_at         = excluded.created_at,
    scheduled_at       = excluded.scheduled_at,
    sent_at            = excluded.sent_at,
    cost               = excluded.cost,
    reported_total     = excluded.reported_total,
    reported_delivered = excluded.reported_delivered,
    reported_failed    = excluded.reported_failed,
    reported_pending   = excluded.reported_pending,
    first_seen_at      = least(d.first_seen_at, excluded.first_seen_at),
    last_polled_at     = excluded.last_polled_at,
    account            = excluded.account
where d.last_polled_at <= excluded.last_polled_at;
