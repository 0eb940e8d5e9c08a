-- Ask for one more fetch of the given known campaigns (all of the provider's when :ids is
-- NULL); returns the campaigns marked.
update sms.campaign_poll_state
set refresh_requested_at = :at
where provider = :provider
  and (cast(:ids as text[]) is null or campaign_id = any(cast(:ids as text[])))
returning campaign_id;
