-- sms.failure_category_map — grain: one row per (provider, reason_kind, pattern): what a
-- vendor reports about a failed message, mapped to a category people can act on. It is data
-- (a VALUES list), not code: to map a new reason, add a row here. The categories:
--   invalid_number       the number is wrong, unknown, unreachable or a landline: clean the list.
--   blocked_or_filtered  a carrier blocked or filtered the message (spam, unregistered sender).
--   carrier_or_network   the carrier or the network failed (or reported an unspecified error).
--   expired              the message's validity ran out before it could be delivered.
--   no_confirmation      handed to the carrier, never confirmed (Nixflex status sent).
--   opted_out            the recipient unsubscribed (replied STOP).
--   other                everything no row maps (sms.failures_by_category; a WARN check lists them).
-- How a row matches (sms.failures_by_category):
--   nixflex twilio_code    the recipient's error_message carries this Twilio code (as a whole
--                          number, e.g. "30007: Message filtered"); tried first.
--   nixflex error_message  the error_message matches this ILIKE pattern (case-insensitive).
--   nixflex status         the recipient's status is this (sent: never confirmed); tried last.
--   smsfactor counter      the campaign's counter of this name (its latest counters snapshot).
-- When several rows match one message, the first kind above wins, then the longest pattern.
-- SMSFactor's npai is not mapped: those numbers are filtered out before sending, so by the
-- counting rule they are not failed messages (docs/data-model.md, "Counting rules").
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.failure_category_map as
select
    provider::text,
    reason_kind::text,
    pattern::text,
    category::text,
    description::text
from (
    values
        -- Twilio's codes (public error list), when the message carries one.
        ('nixflex', 'twilio_code', '30003', 'invalid_number', 'Unreachable destination handset (switched off or out of coverage).'),
        ('nixflex', 'twilio_code', '30005', 'invalid_number', 'Unknown destination handset (the number does not exist).'),
        ('nixflex', 'twilio_code', '30006', 'invalid_number', 'Landline or unreachable carrier.'),
        ('nixflex', 'twilio_code', '30004', 'blocked_or_filtered', 'Message blocked (by the recipient or the carrier).'),
        ('nixflex', 'twilio_code', '30007', 'blocked_or_filtered', 'Message filtered by the carrier (spam).'),
        ('nixflex', 'twilio_code', '30034', 'blocked_or_filtered', 'Message from an unregistered number (US A2P 10DLC).'),
        ('nixflex', 'twilio_code', '30008', 'carrier_or_network', 'Unknown error reported by the carrier.'),
        ('nixflex', 'twilio_code', '21610', 'opted_out', 'Attempt to send to an unsubscribed recipient.'),
        -- Twilio's messages as Nixflex passes them on (the simulator serves the first four).
        ('nixflex', 'error_message', '%unknown%handset%', 'invalid_number', 'Unknown (destination) handset: Twilio 30005.'),
        ('nixflex', 'error_message', '%unreachable%handset%', 'invalid_number', 'Unreachable (destination) handset: Twilio 30003.'),
        ('nixflex', 'error_message', '%landline%', 'invalid_number', 'Landline or unreachable carrier: Twilio 30006.'),
        ('nixflex', 'error_message', '%filtered%', 'blocked_or_filtered', 'Message filtered: Twilio 30007.'),
        ('nixflex', 'error_message', '%blocked%', 'blocked_or_filtered', 'Message blocked: Twilio 30004.'),
        ('nixflex', 'error_message', '%unregistered%', 'blocked_or_filtered', 'Unregistered number: Twilio 30034.'),
        ('nixflex', 'error_message', '%unknown error%', 'carrier_or_network', 'Unknown error: Twilio 30008.'),
        ('nixflex', 'error_message', '%unsubscribed%', 'opted_out', 'Unsubscribed recipient: Twilio 21610.'),
        -- Nixflex's status sent counts as failed: handed to the carrier, never confirmed.
        ('nixflex', 'status', 'sent', 'no_confirmation', 'Handed to the carrier, no delivery receipt.'),
        -- SMSFactor's counters (no reason per message).
        ('smsfactor', 'counter', 'error', 'carrier_or_network', 'SMSFactor error counter: the operator reported an error.'),
        ('smsfactor', 'counter', 'expired', 'expired', 'SMSFactor expired counter: not delivered before it expired.'),
        ('smsfactor', 'counter', 'network_error', 'carrier_or_network', 'SMSFactor network_error counter: the network failed.')
) as m (provider, reason_kind, pattern, category, description);

comment on view sms.failure_category_map is
    'One row per vendor reason mapped to a failure category (invalid_number, blocked_or_filtered, carrier_or_network, expired, no_confirmation, opted_out; what maps to nothing is other). Data, read by sms.failures_by_category.';
comment on column sms.failure_category_map.provider is 'nixflex or smsfactor.';
comment on column sms.failure_category_map.reason_kind is 'What the pattern is matched against: twilio_code (a code in the error message), error_message (ILIKE pattern, case-insensitive), status (Nixflex status), counter (SMSFactor counter name).';
comment on column sms.failure_category_map.pattern is 'The code, ILIKE pattern, status or counter name.';
comment on column sms.failure_category_map.category is 'invalid_number, blocked_or_filtered, carrier_or_network, expired, no_confirmation or opted_out.';
comment on column sms.failure_category_map.description is 'What the vendor means by it.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.failure_category_map to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.failure_category_map to sms_loader;
    end if;
end
$$;
