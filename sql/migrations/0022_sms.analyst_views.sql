-- Three ready views for BI dashboards, over the contract's relations (same rules, nothing
-- copied from the vendors' reported counts).

-- sms.daily_delivery — grain: one row per (day, provider, account, sender): the campaigns
-- whose first message left that day (UTC; for a campaign not sent yet, the day it is
-- scheduled for, else the day it was created), with their recipients by bucket.
create view sms.daily_delivery as
with campaigns as (
    select
        c.provider,
        d.account,
        d.sender,
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        c.total,
        c.delivered,
        c.failed,
        c.pending,
        c.unknown
    from sms.campaign_delivery as c
    join sms.dim_campaign as d using (provider, campaign_id)
),

final as (
    select
        day,
        provider,
        account,
        sender,
        count(*)             as campaigns,
        sum(total)::bigint     as total,
        sum(delivered)::bigint as delivered,
        sum(failed)::bigint    as failed,
        sum(pending)::bigint   as pending,
        sum(unknown)::bigint   as unknown
    from campaigns
    where day is not null
    group by day, provider, account, sender
)

select
    *,
    case when total > 0 then delivered::numeric / total end as delivery_rate
from final;

-- sms.failure_reasons — grain: one row per (day, provider, account, reason): why messages
-- failed. Nixflex: failed recipients (failed, undelivered, sent-but-never-confirmed) by the
-- error message Twilio gave, or by their status when it gave none, on the day each left
-- (UTC; else its campaign's day, as in sms.daily_delivery). SMSFactor reports no reason per
-- message, only counters: 'operator error' (error), 'expired', 'network error'
-- (network_error), from each campaign's latest counters, on the campaign's day.
create view sms.failure_reasons as
with campaign_day as (
    select
        provider,
        campaign_id,
        account,
        (coalesce(sent_at, scheduled_at, created_at) at time zone 'UTC')::date as day
    from sms.dim_campaign
),

nixflex as (
    select
        coalesce((f.sent_at at time zone 'UTC')::date, c.day)              as day,
        f.provider,
        c.account,
        coalesce(nullif(f.error_message, ''), 'no error message: ' || f.status) as reason,
        count(*)::bigint                                                  as messages,
        count(distinct f.campaign_id)::bigint                             as campaigns
    from sms.fact_recipient_delivery as f
    join campaign_day as c using (provider, campaign_id)
    where f.delivery_bucket = 'failed'
    group by 1, 2, 3, 4
),

latest_counters as (
    select distinct on (campaign_id) *
    from sms.fact_campaign_counters
    order by campaign_id, observed_at desc
),

smsfactor as (
    select
        c.day,
        'smsfactor'::text                                as provider,
        c.account,
        r.reason,
        sum(r.messages)::bigint                          as messages,
        count(*)::bigint                                 as campaigns
    from latest_counters as l
    join campaign_day as c on c.provider = 'smsfactor' and c.campaign_id = l.campaign_id
    cross join lateral (
        values
            ('operator error', l.error),
            ('expired', l.expired),
            ('network error', l.network_error)
    ) as r (reason, messages)
    where r.messages > 0
    group by 1, 2, 3, 4
)

select * from nixflex where day is not null
union all
select * from smsfactor where day is not null;

-- sms.recipient_time_to_delivery — grain: one row per Nixflex recipient whose delivery was
-- observed as a change (an earlier poll saw it undelivered). Neither vendor reports when a
-- message was delivered, so the time is bounded by what the polls saw: at most
-- delivered_seen_at - sent_at. A recipient already delivered when first seen is left out:
-- its bound would only say how late the warehouse first looked.
create view sms.recipient_time_to_delivery as
select
    t.provider,
    t.campaign_id,
    t.phone,
    f.sent_at,
    t.observed_at                                            as delivered_seen_at,
    extract(epoch from t.observed_at - f.sent_at)::bigint    as seconds_to_delivery_at_most
from sms.recipient_status_transition as t
join sms.recipient_delivery as f using (campaign_id, phone)
where t.to_status = 'delivered'
  and f.sent_at is not null
  and t.observed_at >= f.sent_at;
