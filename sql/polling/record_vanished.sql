-- The vendor answered "not found" for this campaign at :at: stop watching it.
update sms.campaign_poll_state
set vanished_at          = :at,
    refresh_requested_at = case
        when refresh_requested_at <= :at then null else refresh_requested_at
    end
where provider = :provider and campaign_id = :campaign_id;
