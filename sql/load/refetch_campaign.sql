-- A campaign whose detail answer could not be read (cut short, not JSON: a transient fault)
-- is fetched again by the next sync, instead of waiting for its summary to change, which a
-- settled campaign's never does. An operator's own earlier request is kept. The next poll
-- of the campaign clears the request (record_polled.sql).
update sms.campaign_poll_state
set refresh_requested_at = coalesce(refresh_requested_at, :at)
where provider = :provider and campaign_id = :campaign_id;
