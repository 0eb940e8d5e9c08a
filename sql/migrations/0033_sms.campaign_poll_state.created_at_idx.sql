-- sms.campaign_poll_state: one account's campaigns in the order the Nixflex list shows them
-- (newest created_at first), so that the poller can tell how many list pages separate it
-- from a campaign it still watches (and fetch that campaign directly when paging to it
-- would cost more).
create index campaign_poll_state_created_idx
    on sms.campaign_poll_state (provider, account, created_at desc);
