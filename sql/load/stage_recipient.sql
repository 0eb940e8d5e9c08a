-- stage_recipient — grain: one row per recipient of the Nixflex answer being loaded.
-- A session-local scratch table, emptied at each commit, filled by a binary COPY.
create temp table if not exists stage_recipient (
    campaign_id      text not null,
    phone            text not null,
    status           text not null,
    delivery_bucket  text not null,
    twilio_sid       text,
    error_message    text,
    rendered_message text,
    variables        jsonb,
    sent_at          timestamptz,
    observed_at      timestamptz not null
) on commit delete rows;
