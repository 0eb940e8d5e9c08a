-- sms.recipient_time_to_delivery, same columns, now one row per recipient: each recipient
-- of sms.fact_recipient_delivery (listed by its campaign's latest answer) whose current
-- status is delivered and whose first observed status was not, with the first poll that
-- saw it delivered. Before, it had one row per change to delivered: a recipient that went
-- delivered → failed still counted, one that went delivered → failed → delivered counted
-- twice. A recipient delivered when first seen is still left out (its bound would only say
-- how late the warehouse first looked), and so is one whose first delivery came before its
-- sent_at as now known. delivered_seen_at is the row of sms.recipient_status_transition
-- that is the recipient's first change to delivered, so a range on it reads only the
-- months it names. Differences of timestamptz: no session time zone is involved.
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
comment on column sms.recipient_time_to_delivery.delivered_seen_at is 'When a poll first saw it delivered (UTC).';
