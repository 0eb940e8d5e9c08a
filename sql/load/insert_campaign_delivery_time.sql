-- Insert the sms.campaign_delivery_time rows of one Nixflex campaign (:campaign_id),
-- recounted from its facts as they stand in this transaction, right after the loader wrote
-- them and cleared the campaign's old rows (clear_campaign_aggregates.sql). The recipients
-- are those of sms.recipient_time_to_delivery's rule: listed by the latest answer,
-- delivered now but not when first seen, sent_at known, first seen delivered (the earliest
-- transition to delivered) at or after sent_at; each counts in the bucket whose upper bound
-- is floor(1.1 ^ ceil(log_1.1 s)) seconds (0 for 0 s), s = that transition - sent_at.
-- Reads only the campaign's rows (the keys of sms.recipient_delivery and of each month of
-- sms.recipient_status_transition).
with first_delivered as (
    select phone, min(observed_at) as observed_at
    from sms.recipient_status_transition
    where campaign_id = cast(:campaign_id as text) and to_status = 'delivered'
    group by phone
),

measured as (
    select extract(epoch from t.observed_at - f.sent_at)::bigint as seconds
    from sms.recipient_delivery as f
    join first_delivered as t on t.phone = f.phone
    where f.campaign_id = cast(:campaign_id as text)
      and f.status = 'delivered'
      and f.missing_since is null
      and coalesce(f.first_status, f.status) <> 'delivered'
      and f.sent_at is not null
      and t.observed_at >= f.sent_at
)

insert into sms.campaign_delivery_time (provider, campaign_id, seconds_at_most, recipients)
select
    'nixflex',
    cast(:campaign_id as text),
    case when seconds < 1 then 0
         else floor(power(1.1::float8, ceil(ln(seconds::float8) / ln(1.1::float8))) + 1e-9)::bigint
    end,
    count(*)
from measured
group by 3;
