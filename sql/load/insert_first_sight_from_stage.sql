-- A campaign seen for the first time: its staged recipients go straight into the facts,
-- each row holding its first observation (first_status at first_seen_at).
insert into sms.fact_recipient_delivery (
    provider, campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
    rendered_message, variables, sent_at, first_seen_at, status_changed_at, first_status
)
select
    'nixflex', campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
    rendered_message, variables, sent_at, observed_at, observed_at, status
from stage_recipient;
