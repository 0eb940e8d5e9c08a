-- stage_recipient — grain: one row per recipient of the Nixflex answer being merged, shaped
-- exactly as it would enter sms.recipient_delivery if new (first_seen_at: this
-- observation's time; country: NULL until the loader places the recipients the campaign
-- does not hold yet, load/place_staged_recipients.sql). A session-local scratch table,
-- emptied at each commit, filled by a binary COPY.
create temp table if not exists stage_recipient (
    campaign_id       text collate "C" not null,  -- as in the facts
    phone             text collate "C" not null,
    status            text not null,
    delivery_bucket   text not null,
    twilio_sid        text,
    error_message     text,
    rendered_message  text,
    variables         jsonb,
    sent_at           timestamptz,
    first_seen_at     timestamptz not null,
    country           text
) on commit delete rows;
