-- sms.fact_recipient_status_change — grain: one row per observed change of a Nixflex
-- recipient's status, from_status NULL on first sight. Two sources: the first observation
-- of each recipient, kept on its row of sms.recipient_delivery (first_status, or status
-- while it never changed, at first_seen_at), and sms.recipient_status_transition, one row
-- per later, real change (partitioned by month of observed_at). Every recipient ever seen
-- is here, those the latest answer no longer lists included.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.fact_recipient_status_change as
select
    'nixflex'::text                  as provider,
    campaign_id,
    phone,
    null::text                       as from_status,
    coalesce(first_status, status)   as to_status,
    first_seen_at                    as observed_at
from sms.recipient_delivery
union all
select provider, campaign_id, phone, from_status, to_status, observed_at
from sms.recipient_status_transition;

comment on view sms.fact_recipient_status_change is
    'One row per observed change of a Nixflex recipient''s status; the first observation has from_status NULL. A poll that sees no change adds nothing.';
comment on column sms.fact_recipient_status_change.provider is 'Always nixflex.';
comment on column sms.fact_recipient_status_change.campaign_id is 'The Nixflex campaign.';
comment on column sms.fact_recipient_status_change.phone is 'The recipient (as in sms.fact_recipient_delivery).';
comment on column sms.fact_recipient_status_change.from_status is 'The status before; NULL on the first observation.';
comment on column sms.fact_recipient_status_change.to_status is 'The status observed.';
comment on column sms.fact_recipient_status_change.observed_at is 'When the poll that saw it fetched the campaign (UTC): the change happened at or before this time.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.fact_recipient_status_change to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.fact_recipient_status_change to sms_loader;
    end if;
end
$$;
