-- sms.fact_recipient_delivery, same columns, now holds only the recipients the campaign's
-- latest answer lists. Nixflex returns a campaign with every recipient, so that answer says
-- who the campaign's recipients are: a recipient it no longer lists (the vendor dropped
-- it; or the same phone under a new pseudonym after the privacy salt changed) is kept in
-- sms.recipient_delivery with missing_since set (migration 0035) and left out here, and so
-- out of sms.campaign_delivery, sms.daily_delivery, sms.failure_reasons and the checks
-- that read this view. Its history stays in sms.fact_recipient_status_change. The view
-- reads no session setting (no time zone).
create or replace view sms.fact_recipient_delivery as
select
    'nixflex'::text                              as provider,
    campaign_id,
    phone,
    status,
    delivery_bucket,
    twilio_sid,
    error_message,
    rendered_message,
    variables,
    sent_at,
    first_seen_at,
    coalesce(status_changed_at, first_seen_at)   as status_changed_at
from sms.recipient_delivery
where missing_since is null;

comment on view sms.fact_recipient_delivery is
    'One row per Nixflex (campaign_id, phone) listed by the campaign''s latest answer: the recipient''s latest known state. A recipient that answer no longer lists is left out (kept in sms.recipient_delivery with missing_since set).';
