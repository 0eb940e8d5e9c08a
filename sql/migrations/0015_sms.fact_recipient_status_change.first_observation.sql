-- sms.fact_recipient_status_change becomes a view with the same columns and rows, over:
--   * the first observation of each recipient, now kept on its fact row
--     (sms.fact_recipient_delivery.first_status, at first_seen_at), and
--   * sms.recipient_status_transition: one row per later, real change (from_status set).
-- Why: a campaign seen for the first time used to write every recipient twice (the fact and
-- a from_status NULL change row with the same values). Deriving the first observation from
-- the fact row makes a backfill one COPY per campaign; nothing an analyst reads changes.

alter table sms.fact_recipient_delivery add column first_status text;

update sms.fact_recipient_delivery as f
set first_status = c.to_status
from sms.fact_recipient_status_change as c
where c.campaign_id = f.campaign_id
  and c.phone = f.phone
  and c.from_status is null;

-- A fact without a recorded first observation (none is expected): its status is the best
-- that is known.
update sms.fact_recipient_delivery set first_status = status where first_status is null;

alter table sms.fact_recipient_delivery alter column first_status set not null;

delete from sms.fact_recipient_status_change where from_status is null;

alter table sms.fact_recipient_status_change rename to recipient_status_transition;
alter table sms.recipient_status_transition alter column from_status set not null;
alter index sms.fact_recipient_status_change_pkey rename to recipient_status_transition_pkey;
alter index sms.fact_recipient_status_change_time_idx
    rename to recipient_status_transition_time_idx;

-- Rows arrive in first_seen_at order (one campaign at a time), so a BRIN index answers
-- "first observations in this time range" for a few pages of index and almost no write cost.
create index fact_recipient_delivery_first_seen_brin
    on sms.fact_recipient_delivery using brin (first_seen_at);

create view sms.fact_recipient_status_change as
select
    provider,
    campaign_id,
    phone,
    null::text   as from_status,
    first_status as to_status,
    first_seen_at as observed_at
from sms.fact_recipient_delivery
union all
select provider, campaign_id, phone, from_status, to_status, observed_at
from sms.recipient_status_transition;
