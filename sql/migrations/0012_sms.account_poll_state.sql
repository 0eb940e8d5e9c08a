-- sms.account_poll_state — grain: one row per (provider, account) the poller has polled.
-- last_full_pass_at: when discovery last read the account's list to its end; until it has
-- once, every sync reads the whole list (a backfill interrupted half way is finished first).
create table sms.account_poll_state (
    provider          text not null check (provider in ('nixflex', 'smsfactor')),
    account           text not null,
    last_sync_at      timestamptz,
    last_full_pass_at timestamptz,
    last_outcome      text,
    primary key (provider, account)
);
