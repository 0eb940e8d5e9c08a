-- Every relation and column analysts and operators meet, documented in the database itself,
-- so that BI tools and psql's \d+ show it. Allowed values are listed where there are some.

-- sms.dim_campaign
comment on table sms.dim_campaign is
    'One row per (provider, campaign_id), both vendors, as last read from the vendor.';
comment on column sms.dim_campaign.provider is 'The vendor: nixflex or smsfactor.';
comment on column sms.dim_campaign.campaign_id is 'The vendor''s campaign id (unique per provider).';
comment on column sms.dim_campaign.name is 'Campaign name (Nixflex); NULL for SMSFactor, which has none.';
comment on column sms.dim_campaign.sender is 'Sender: Nixflex from_number, SMSFactor sender.';
comment on column sms.dim_campaign.message_text is 'Message: Nixflex message_template (with {{placeholders}}), SMSFactor text.';
comment on column sms.dim_campaign.status is 'The vendor''s own status word, unchanged. Nixflex: draft, scheduled, running, done, failed. SMSFactor: Sent, Waiting, In progress, In moderation, Denied.';
comment on column sms.dim_campaign.created_at is 'When the campaign was created (UTC).';
comment on column sms.dim_campaign.scheduled_at is 'Planned sending time (UTC): Nixflex scheduled_at, SMSFactor date.';
comment on column sms.dim_campaign.sent_at is 'When sending started (UTC): Nixflex first recipient sent_at; SMSFactor date, NULL while Waiting, In moderation or Denied.';
comment on column sms.dim_campaign.cost is 'Cost as the vendor reports it (SMSFactor); NULL for Nixflex, which reports none.';
comment on column sms.dim_campaign.reported_total is 'Total as the vendor last reported it (Nixflex total_count, SMSFactor total). Compare with sms.campaign_delivery, which recomputes.';
comment on column sms.dim_campaign.reported_delivered is 'Delivered as the vendor last reported it (Nixflex delivered_count, SMSFactor delivered).';
comment on column sms.dim_campaign.reported_failed is 'Failed as Nixflex last reported it (failed_count); NULL for SMSFactor, which does not report it.';
comment on column sms.dim_campaign.reported_pending is 'Pending as Nixflex last reported it (pending_count); NULL for SMSFactor.';
comment on column sms.dim_campaign.first_seen_at is 'When the warehouse first read this campaign (UTC).';
comment on column sms.dim_campaign.last_polled_at is 'When the vendor was last asked about this campaign (UTC), changed or not.';
comment on column sms.dim_campaign.account is 'The configured vendor account (API key) the campaign belongs to: default, or the <ACCOUNT> of NIXFLEX_API_KEY_<ACCOUNT> / SMSFACTOR_API_TOKEN_<ACCOUNT>, lower-cased.';

-- sms.fact_recipient_delivery
comment on view sms.fact_recipient_delivery is
    'One row per Nixflex (campaign_id, phone): the recipient''s latest known state. A recipient missing from a later answer keeps its last known state.';
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

-- sms.fact_recipient_status_change
comment on view sms.fact_recipient_status_change is
    'One row per observed change of a Nixflex recipient''s status; the first observation has from_status NULL. A poll that sees no change adds nothing.';
comment on column sms.fact_recipient_status_change.provider is 'Always nixflex.';
comment on column sms.fact_recipient_status_change.campaign_id is 'The Nixflex campaign.';
comment on column sms.fact_recipient_status_change.phone is 'The recipient (as in sms.fact_recipient_delivery).';
comment on column sms.fact_recipient_status_change.from_status is 'The status before; NULL on the first observation.';
comment on column sms.fact_recipient_status_change.to_status is 'The status observed.';
comment on column sms.fact_recipient_status_change.observed_at is 'When the poll that saw it fetched the campaign (UTC): the change happened at or before this time.';

-- sms.fact_campaign_counters
comment on table sms.fact_campaign_counters is
    'One row per SMSFactor (campaign_id, observed_at), written only when the counters differ from the previous snapshot: the campaign''s delivery progress over time.';
comment on column sms.fact_campaign_counters.provider is 'Always smsfactor.';
comment on column sms.fact_campaign_counters.campaign_id is 'The SMSFactor campaign.';
comment on column sms.fact_campaign_counters.observed_at is 'When these counters were read (UTC).';
comment on column sms.fact_campaign_counters.status is 'The campaign status then: Sent, Waiting, In progress, In moderation, Denied.';
comment on column sms.fact_campaign_counters.total is 'Messages before filtering (SMSFactor total).';
comment on column sms.fact_campaign_counters.delivered is 'Messages delivered.';
comment on column sms.fact_campaign_counters.error is 'Messages in error, from the operators.';
comment on column sms.fact_campaign_counters.expired is 'Messages expired.';
comment on column sms.fact_campaign_counters.network_error is 'Messages in error, from the network.';
comment on column sms.fact_campaign_counters.stop is 'STOP replies received.';
comment on column sms.fact_campaign_counters.npai is 'Unassigned numbers, filtered out before sending (neither delivered, failed nor pending).';
comment on column sms.fact_campaign_counters.delivery_rate is 'The vendor''s own delivery percentage (0-100; formula undocumented: a check compares it with delivered/total).';
comment on column sms.fact_campaign_counters.cost is 'Cost as the vendor reports it.';

-- sms.campaign_delivery
comment on view sms.campaign_delivery is
    'One row per (provider, campaign_id), both vendors: recipients by bucket, recomputed by each vendor''s documented rule (Nixflex from its recipients, never from the reported counts; SMSFactor from its latest counters).';
comment on column sms.campaign_delivery.provider is 'nixflex or smsfactor.';
comment on column sms.campaign_delivery.campaign_id is 'The vendor''s campaign id.';
comment on column sms.campaign_delivery.name is 'Campaign name (NULL for SMSFactor).';
comment on column sms.campaign_delivery.status is 'The vendor''s status word.';
comment on column sms.campaign_delivery.created_at is 'When the campaign was created (UTC).';
comment on column sms.campaign_delivery.total is 'Recipients (Nixflex) or messages before filtering (SMSFactor).';
comment on column sms.campaign_delivery.delivered is 'Delivered.';
comment on column sms.campaign_delivery.failed is 'Failed: Nixflex failed + undelivered + sent; SMSFactor error + expired + network_error.';
comment on column sms.campaign_delivery.pending is 'Not final yet: Nixflex pending + queued; SMSFactor total - delivered - failed - npai.';
comment on column sms.campaign_delivery.unknown is 'Nixflex recipients in an undocumented status (counted in total); 0 for SMSFactor.';
comment on column sms.campaign_delivery.delivery_rate is 'delivered / total, a fraction from 0 to 1; NULL when total is 0.';
comment on column sms.campaign_delivery.as_of is 'When the data behind the row was fetched (the campaign''s last poll, UTC).';

-- sms.daily_delivery, sms.failure_reasons, sms.recipient_time_to_delivery
comment on view sms.daily_delivery is
    'One row per (day, provider, account, sender): campaigns whose first message left that day (UTC; else their scheduled or creation day) and their recipients by bucket.';
comment on column sms.daily_delivery.day is 'The UTC day the campaigns were sent (or scheduled, or created).';
comment on column sms.daily_delivery.provider is 'nixflex or smsfactor.';
comment on column sms.daily_delivery.account is 'The vendor account.';
comment on column sms.daily_delivery.sender is 'The sender (number or name).';
comment on column sms.daily_delivery.campaigns is 'Campaigns in the row.';
comment on column sms.daily_delivery.total is 'Their total (as in sms.campaign_delivery).';
comment on column sms.daily_delivery.delivered is 'Delivered.';
comment on column sms.daily_delivery.failed is 'Failed.';
comment on column sms.daily_delivery.pending is 'Still pending.';
comment on column sms.daily_delivery.unknown is 'In an undocumented status (Nixflex).';
comment on column sms.daily_delivery.delivery_rate is 'delivered / total (0 to 1); NULL when total is 0.';

comment on view sms.failure_reasons is
    'One row per (day, provider, account, reason): why messages failed. Nixflex by Twilio''s error message (or the status, when it gave none), on the day each message left; SMSFactor by counter (operator error, expired, network error), from each campaign''s latest counters, on the campaign''s day.';
comment on column sms.failure_reasons.day is 'The UTC day the messages were sent (Nixflex: each message; SMSFactor: its campaign, as in sms.daily_delivery).';
comment on column sms.failure_reasons.provider is 'nixflex or smsfactor.';
comment on column sms.failure_reasons.account is 'The vendor account.';
comment on column sms.failure_reasons.reason is 'The error message or counter.';
comment on column sms.failure_reasons.messages is 'Failed messages with this reason.';
comment on column sms.failure_reasons.campaigns is 'Campaigns with at least one of them that day.';

comment on view sms.recipient_time_to_delivery is
    'One row per Nixflex recipient whose delivery was observed as a change: an upper bound of the time from sending to delivery (vendors do not report delivery times; polls bound it).';
comment on column sms.recipient_time_to_delivery.provider is 'Always nixflex.';
comment on column sms.recipient_time_to_delivery.campaign_id is 'The campaign.';
comment on column sms.recipient_time_to_delivery.phone is 'The recipient.';
comment on column sms.recipient_time_to_delivery.sent_at is 'When the message left Nixflex (UTC).';
comment on column sms.recipient_time_to_delivery.delivered_seen_at is 'When a poll first saw it delivered (UTC).';
comment on column sms.recipient_time_to_delivery.seconds_to_delivery_at_most is 'delivered_seen_at - sent_at, in seconds: delivery took at most this long.';

-- Internal relations (what the views above read; the poller's bookkeeping)
comment on table sms.recipient_delivery is
    'Storage behind sms.fact_recipient_delivery: status_changed_at and first_status are NULL until the status first changes. Query the view.';
comment on table sms.recipient_status_transition is
    'Storage behind sms.fact_recipient_status_change: one row per later, real change (from_status set). Query the view.';
comment on table sms.campaign_poll_state is
    'The poller''s bookkeeping, one row per (provider, campaign_id): why a campaign is or is not fetched again (settled = is_final and settles_at <= now()). Operators may set refresh_requested_at.';
comment on table sms.account_poll_state is
    'The poller''s bookkeeping, one row per (provider, account): the last sync and when discovery last read the whole list.';

comment on column sms.recipient_delivery.campaign_id is 'The Nixflex campaign.';
comment on column sms.recipient_delivery.phone is 'The recipient (pseudonymised when the warehouse hashes phone numbers).';
comment on column sms.recipient_delivery.status is 'The latest status.';
comment on column sms.recipient_delivery.delivery_bucket is 'delivered, failed, pending or unknown (see sms.fact_recipient_delivery).';
comment on column sms.recipient_delivery.twilio_sid is 'Twilio message id.';
comment on column sms.recipient_delivery.error_message is 'Twilio''s error message, if any.';
comment on column sms.recipient_delivery.rendered_message is 'The message as sent (NULL when left out for privacy).';
comment on column sms.recipient_delivery.variables is 'Template variables (jsonb).';
comment on column sms.recipient_delivery.sent_at is 'When the message left Nixflex (UTC).';
comment on column sms.recipient_delivery.first_seen_at is 'When first seen (UTC).';
comment on column sms.recipient_delivery.status_changed_at is 'When the status last changed (UTC); NULL while it never has.';
comment on column sms.recipient_delivery.first_status is 'The status first seen; NULL while it never changed (then it is status).';
comment on column sms.recipient_status_transition.provider is 'Always nixflex.';
comment on column sms.recipient_status_transition.campaign_id is 'The Nixflex campaign.';
comment on column sms.recipient_status_transition.phone is 'The recipient.';
comment on column sms.recipient_status_transition.from_status is 'The status before.';
comment on column sms.recipient_status_transition.to_status is 'The status observed.';
comment on column sms.recipient_status_transition.observed_at is 'When the poll that saw it fetched the campaign (UTC).';
comment on column sms.campaign_poll_state.provider is 'nixflex or smsfactor.';
comment on column sms.campaign_poll_state.campaign_id is 'The campaign.';
comment on column sms.campaign_poll_state.account is 'The vendor account.';
comment on column sms.campaign_poll_state.created_at is 'When the vendor says it was created (bounds how far discovery pages back).';
comment on column sms.campaign_poll_state.first_seen_at is 'First time the poller saw it anywhere.';
comment on column sms.campaign_poll_state.last_listed_at is 'Last time a list or history page showed it.';
comment on column sms.campaign_poll_state.last_polled_at is 'Last time its own data was fetched.';
comment on column sms.campaign_poll_state.polls is 'How many times its own data was fetched.';
comment on column sms.campaign_poll_state.summary_hash is 'Nixflex: its list summary at the last detail fetch (a change means fetch again).';
comment on column sms.campaign_poll_state.last_changed_at is 'Last time a load found something new in it.';
comment on column sms.campaign_poll_state.is_final is 'The vendor says it is done and nothing is pending.';
comment on column sms.campaign_poll_state.last_sent_at is 'When its last message left the vendor.';
comment on column sms.campaign_poll_state.settles_at is 'Final and this old: receipts are over, it is not polled again (unless its summary changes or a refresh is requested).';
comment on column sms.campaign_poll_state.state_as_of is 'fetched_at of the answer the settlement columns come from.';
comment on column sms.campaign_poll_state.vanished_at is 'When the vendor answered "not found".';
comment on column sms.campaign_poll_state.refresh_requested_at is 'Set (by an operator, or by the loader after an unreadable answer) to fetch it once more; cleared by that fetch.';
comment on column sms.account_poll_state.provider is 'nixflex or smsfactor.';
comment on column sms.account_poll_state.account is 'The vendor account.';
comment on column sms.account_poll_state.last_sync_at is 'When it was last polled.';
comment on column sms.account_poll_state.last_full_pass_at is 'When discovery last read its whole list (until it has once, every sync reads all of it).';
comment on column sms.account_poll_state.last_outcome is 'How the last poll ended.';

-- raw (operators only)
comment on table raw.vendor_response is
    'Every HTTP answer fetched from a vendor, landed before anything reads it: the bytes as received (body, per body_encoding), content_hash (sha256), and load_status pending, loaded or quarantined.';
comment on column raw.vendor_response.body_encoding is 'identity (body holds the bytes as received) or zstd (a Zstandard frame; read with make raw-body ID=...).';
comment on column raw.vendor_response.duplicate_of is 'Set when the answer had exactly the bytes of that earlier answer, which holds them.';
comment on column raw.vendor_response.load_status is 'pending (not loaded yet), loaded, or quarantined (see raw.quarantine).';
comment on table raw.quarantine is
    'What was kept out of the facts, with why: kind unreadable_body, vendor_error, unknown_shape, invalid_item, duplicate_recipient, rejected_by_warehouse, reader_error; unknown_field is a note (the answer loaded without those fields).';
