-- sms.campaign_poll_state — grain: one row per (provider, campaign_id) the poller has seen.
-- What the incremental poller knows about each campaign and why it will (not) fetch it again:
-- a campaign is *settled* once is_final and settles_at <= now(); settled campaigns are not
-- polled unless their list summary changes or an operator sets refresh_requested_at.
-- Written by the poller (listing / polling columns) and by the loader (settlement columns,
-- from the data itself). Operators may set refresh_requested_at by hand to force a refresh.
create table sms.campaign_poll_state (
    provider             text not null check (provider in ('nixflex', 'smsfactor')),
    campaign_id          text not null,
    account              text not null default 'default',
    created_at           timestamptz,          -- as the vendor lists it (discovery horizon)
    first_seen_at        timestamptz not null, -- first time the poller saw it anywhere
    last_listed_at       timestamptz,          -- last time a list / history page showed it
    last_polled_at       timestamptz,          -- last time its own data was fetched
    polls                integer not null default 0, -- fetches of its own data so far
    summary_hash         text,                 -- Nixflex: list summary at the last detail fetch
    last_changed_at      timestamptz,          -- last load that found something new
    is_final             boolean not null default false, -- vendor says done, nothing pending
    last_sent_at         timestamptz,          -- when its last message left the vendor
    settles_at           timestamptz,          -- final and this old: receipts are over
    state_as_of          timestamptz,          -- fetched_at of the answer the above come from
    vanished_at          timestamptz,          -- the vendor answered "not found"
    refresh_requested_at timestamptz,          -- set to force one more fetch; cleared by it
    primary key (provider, campaign_id)
);

create index campaign_poll_state_watch_idx
    on sms.campaign_poll_state (provider, account, settles_at);
