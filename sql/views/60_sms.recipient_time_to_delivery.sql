-- sms.recipient_time_to_delivery — grain: one row per Nixflex recipient of
-- sms.fact_recipient_delivery (listed by its campaign's latest answer) whose current status
-- is delivered and whose first observed status was not, with the first poll that saw it
-- delivered. Neither vendor reports when a message was delivered, so the time is bounded by
-- what the polls saw: at most delivered_seen_at - sent_at. A recipient delivered when first
-- seen is left out (its bound would only say how late the warehouse first looked), and so
-- is one whose first delivery came before its sent_at as now known. delivered_seen_at is
-- the row of sms.recipient_status_transition that is the recipient's first change to
-- delivered, so a range on it reads only the months it names. Differences of timestamptz:
-- no session time zone is involved.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.recipient_time_to_delivery as
select
    'nixflex'::text                                          as provider,
    t.campaign_id,
    t.phone,
    f.sent_at,
    t.observed_at                                            as delivered_seen_at,
    extract(epoch from t.observed_at - f.sent_at)::bigint    as seconds_to_delivery_at_most
from sms.recipient_status_transition as t
join sms.recipient_delivery as f using (campaign_id, phone)
where t.to_status = 'delivered'
  and f.status = 'delivered'
  and f.missing_since is null
  and coalesce(f.first_status, f.status) <> 'delivered'
  and f.sent_at is not null
  and t.observed_at >= f.sent_at
  and not exists (
      select 1
      from sms.recipient_status_transition as e
      where e.campaign_id = t.campaign_id
        and e.phone = t.phone
        and e.to_status = 'delivered'
        and e.observed_at < t.observed_at
  );

comment on view sms.recipient_time_to_delivery is
    'One row per Nixflex recipient listed by its campaign''s latest answer, delivered now and not when first seen: an upper bound of the time from sending to its first observed delivery (vendors do not report delivery times; polls bound it).';
comment on column sms.recipient_time_to_delivery.provider is 'Always nixflex.';
comment on column sms.recipient_time_to_delivery.campaign_id is 'The campaign.';
comment on column sms.recipient_time_to_delivery.phone is 'The recipient.';
comment on column sms.recipient_time_to_delivery.sent_at is 'When the message left Nixflex (UTC).';
comment on column sms.recipient_time_to_delivery.delivered_seen_at is 'When a poll first saw it delivered (UTC).';
comment on column sms.recipient_time_to_delivery.seconds_to_delivery_at_most is 'delivered_seen_at - sent_at, in seconds: delivery took at most this long.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.recipient_time_to_delivery to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.recipient_time_to_delivery to sms_loader;
    end if;
end
$$;
