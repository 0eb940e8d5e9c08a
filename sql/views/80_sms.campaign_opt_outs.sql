-- sms.campaign_opt_outs — grain: one row per SMSFactor campaign that has a counters
-- snapshot: its opt-outs (stop: recipients who replied STOP) and unusable numbers (npai:
-- numbers the vendor filtered out as unreachable, "n'habite pas à l'adresse indiquée"),
-- from the campaign's LATEST snapshot of sms.fact_campaign_counters (the one with the
-- greatest observed_at, found per campaign through the (campaign_id, observed_at) key: a
-- filter on the campaign reads only its snapshots), with account, sender and sending time
-- from sms.dim_campaign. Rates are over the campaign's total (messages before filtering),
-- exact numeric fractions from 0 to 1 (not rounded; round when displaying), NULL when total
-- is 0. Nixflex reports neither counter, so it has no rows here. Reads no session setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.campaign_opt_outs as
select
    d.provider,
    d.account,
    d.campaign_id,
    d.sender,
    d.sent_at,
    c.total::bigint                                              as total,
    c.stop::bigint                                               as stop,
    c.npai::bigint                                               as npai,
    case when c.total > 0 then c.stop::numeric / c.total end     as stop_rate,
    case when c.total > 0 then c.npai::numeric / c.total end     as npai_rate,
    c.observed_at                                                as as_of
from sms.dim_campaign as d
cross join lateral (
    select f.total, f.stop, f.npai, f.observed_at
    from sms.fact_campaign_counters as f
    where f.campaign_id = d.campaign_id
    order by f.observed_at desc
    limit 1
) as c
where d.provider = 'smsfactor';

comment on view sms.campaign_opt_outs is
    'One row per SMSFactor campaign: STOP replies and npai (unusable) numbers from its latest counters snapshot, with rates over its total. Nixflex reports neither.';
comment on column sms.campaign_opt_outs.provider is 'Always smsfactor.';
comment on column sms.campaign_opt_outs.account is 'The vendor account.';
comment on column sms.campaign_opt_outs.campaign_id is 'The SMSFactor campaign (sms.dim_campaign).';
comment on column sms.campaign_opt_outs.sender is 'The sender (number or name).';
comment on column sms.campaign_opt_outs.sent_at is 'When the campaign was sent (UTC; the vendor''s send date); NULL while Waiting, In moderation or Denied.';
comment on column sms.campaign_opt_outs.total is 'Messages before filtering (the vendor''s total).';
comment on column sms.campaign_opt_outs.stop is 'STOP replies (opt-outs), as the vendor counts them; they keep arriving for hours after sending.';
comment on column sms.campaign_opt_outs.npai is 'npai numbers: unusable numbers the vendor filtered out before sending.';
comment on column sms.campaign_opt_outs.stop_rate is 'stop / total, an exact fraction from 0 to 1 (not rounded); NULL when total is 0.';
comment on column sms.campaign_opt_outs.npai_rate is 'npai / total, an exact fraction from 0 to 1 (not rounded); NULL when total is 0.';
comment on column sms.campaign_opt_outs.as_of is 'When the latest counters snapshot was observed (UTC): the counters are as of then.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.campaign_opt_outs to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.campaign_opt_outs to sms_loader;
    end if;
end
$$;
