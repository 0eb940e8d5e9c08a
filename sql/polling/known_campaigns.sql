-- What the poller knows about the given campaigns of one provider (missing = never seen).
select
    campaign_id, account, created_at, last_polled_at, summary_hash, is_final, settles_at,
    refresh_requested_at
from sms.campaign_poll_state
where provider = :provider and campaign_id = any(:ids);
