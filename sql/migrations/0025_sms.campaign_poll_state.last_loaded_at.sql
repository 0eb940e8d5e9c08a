-- sms.campaign_poll_state.last_loaded_at — when the loader last loaded an answer about the
-- campaign (the warehouse's clock). The checks run after a sync look only at the campaigns
-- whose last_loaded_at is at or after the start of that sync's load: at hundreds of
-- millions of recipients a check over everything every 15 minutes would cost more than
-- the sync. A daily run of every check (job full_checks) still looks at everything.
alter table sms.campaign_poll_state add column last_loaded_at timestamptz;

create index campaign_poll_state_loaded_idx
    on sms.campaign_poll_state (last_loaded_at, provider);

comment on column sms.campaign_poll_state.last_loaded_at is
    'When the loader last loaded an answer about it (warehouse clock): the checks after a sync look at the campaigns loaded since it started.';
