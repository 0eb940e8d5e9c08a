-- sms.data_freshness — grain: one row per (provider, account) the pipeline has polled: how
-- fresh that account's data is. last_answer_at is the account's latest answer the vendor
-- said succeeded (raw.vendor_response.vendor_ok, else its HTTP status: the rule of the check
-- data_is_fresh, which flags a vendor silent for 30 minutes); last_sync_at and last_outcome
-- are the account's latest poll as sms.account_poll_state records it, whatever it got.
-- Analysts cannot read raw: the view shows only the time of the latest good answer. The
-- minutes are counted from now() (the transaction's start); no session time zone is read.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.data_freshness as
select
    a.provider,
    a.account,
    ok.fetched_at                                                       as last_answer_at,
    round((extract(epoch from now() - ok.fetched_at) / 60.0)::numeric, 1) as minutes_since_last_answer,
    a.last_sync_at,
    a.last_outcome
from sms.account_poll_state as a
cross join lateral (
    select max(r.fetched_at) as fetched_at
    from raw.vendor_response as r
    where r.provider = a.provider
      and r.account = a.account
      and coalesce(r.vendor_ok, r.http_status between 200 and 299)
) as ok;

comment on view sms.data_freshness is
    'One row per (provider, account) polled: when the vendor last answered successfully, how many minutes ago, and the latest poll and its outcome. The check data_is_fresh warns after 30 minutes without a good answer.';
comment on column sms.data_freshness.provider is 'nixflex or smsfactor.';
comment on column sms.data_freshness.account is 'The vendor account (API key) as configured.';
comment on column sms.data_freshness.last_answer_at is 'The latest answer the vendor said succeeded (UTC); NULL if none yet.';
comment on column sms.data_freshness.minutes_since_last_answer is 'Minutes from last_answer_at to now, one decimal.';
comment on column sms.data_freshness.last_sync_at is 'When the latest poll of this account finished (UTC), whatever its outcome.';
comment on column sms.data_freshness.last_outcome is 'What that poll got: a summary of calls and answers, or "refused: " and why.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.data_freshness to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.data_freshness to sms_loader;
    end if;
end
$$;
