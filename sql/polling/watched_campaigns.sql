-- Campaigns of one account that polling still watches: not yet settled (settles_at null or
-- after :now; the loader sets it for final campaigns and, from their last change, for the
-- others), not vanished, or with a refresh requested.
select
    campaign_id, account, created_at, last_polled_at, summary_hash, is_final, settles_at,
    refresh_requested_at
from sms.campaign_poll_state
where provider = :provider
  and account = :account
  and (
      refresh_requested_at is not null
      or (vanished_at is null and (settles_at is null or settles_at > :now))
  );
