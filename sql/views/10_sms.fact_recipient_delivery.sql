-- sms.fact_recipient_delivery — grain: one row per Nixflex (campaign_id, phone) that the
-- campaign's latest answer lists: the recipient's latest known state. Storage is
-- sms.recipient_delivery, which keeps fewer values per row: provider is always 'nixflex',
-- status_changed_at is NULL until the status first changes (first_seen_at until then). A
-- recipient the latest answer no longer lists (the vendor dropped it, or the same phone
-- under a new pseudonym after the privacy salt changed) keeps its row there with
-- missing_since set and is left out here, and so out of every view that reads this one.
-- Its history stays in sms.fact_recipient_status_change. Reads no session setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
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
    coalesce(status_changed_at, first_seen_at)   as status_changed_at,
    country
from sms.recipient_delivery
where missing_since is null;

comment on view sms.fact_recipient_delivery is
    'One row per Nixflex (campaign_id, phone) listed by the campaign''s latest answer: the recipient''s latest known state. A recipient that answer no longer lists is left out (kept in sms.recipient_delivery with missing_since set).';
comment on column sms.fact_recipient_delivery.provider is 'Always nixflex.';
comment on column sms.fact_recipient_delivery.campaign_id is 'The Nixflex campaign (sms.dim_campaign).';
comment on column sms.fact_recipient_delivery.phone is 'The recipient''s phone number, E.164 as Nixflex gives it; pseudonymised (country code, last digits and a keyed hash) when the warehouse hashes phone numbers.';
comment on column sms.fact_recipient_delivery.status is 'The latest status: pending, queued, sent, delivered, undelivered, failed; anything else is undocumented (bucket unknown).';
comment on column sms.fact_recipient_delivery.delivery_bucket is 'delivered (delivered), failed (failed, undelivered, sent: handed to the carrier, never confirmed), pending (pending, queued) or unknown (anything else), by Nixflex''s documented rule.';
comment on column sms.fact_recipient_delivery.twilio_sid is 'Twilio message id, once the message reached Twilio.';
comment on column sms.fact_recipient_delivery.error_message is 'Why the message failed, as Twilio said it (e.g. Unknown handset); NULL otherwise.';
comment on column sms.fact_recipient_delivery.rendered_message is 'The message as sent to this recipient; NULL when the warehouse leaves rendered messages out (privacy setting).';
comment on column sms.fact_recipient_delivery.variables is 'The recipient''s template variables (jsonb), as Nixflex gave them.';
comment on column sms.fact_recipient_delivery.sent_at is 'When the message left Nixflex (UTC); NULL while pending.';
comment on column sms.fact_recipient_delivery.first_seen_at is 'When the warehouse first saw this recipient (UTC).';
comment on column sms.fact_recipient_delivery.status_changed_at is 'When the warehouse saw the status change to the current one (UTC); first_seen_at if it never changed.';
comment on column sms.fact_recipient_delivery.country is 'The recipient''s country (ISO 3166-1 alpha-2), from its E.164 number at load (kept when the phone is pseudonymised); NULL when the number names no country.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.fact_recipient_delivery to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.fact_recipient_delivery to sms_loader;
    end if;
end
$$;
