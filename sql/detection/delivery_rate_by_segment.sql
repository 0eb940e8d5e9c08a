-- Rule (check delivery_rate_is_normal): per segment (provider, account, sender), the
-- delivery rate of the messages whose outcome became known in the last :window_hours UTC
-- hours (the hour holding :as_of and the :window_hours - 1 before it) is not more than
-- :drop_percent % (relative) below its baseline: the rate over the same hours of each of
-- the :baseline_days days before. A segment is flagged only when the window holds at least
-- :min_messages outcomes and the baseline too (a sender with no past has no baseline).
-- Rate = delivered / (delivered + failed), by the documented counting rules (Nixflex
-- delivery_bucket, SMSFactor delivered against error + expired + network_error; pending and
-- SMSFactor npai are not outcomes), read from sms.campaign_outcome_hour (when the warehouse
-- learnt each outcome; a Nixflex message still sent counts as failed an hour after sending).
-- Lists every segment with outcomes in the window, flagged or not, with its figures; for a
-- flagged one, grown_categories gives each failure category (sms.failure_category_map)
-- whose share of the segment's messages grew, in percent now and in the baseline.
-- segment is provider/account/sender, a sender that is a phone number (Nixflex's) shown by
-- its last four digits (…7262), so that no message carries a whole number.
-- Severity: WARN. Scope: the hours compared, after a sync and in full_checks alike (a few
-- rows per campaign and hour, read through the index on known_hour: the cost follows the
-- traffic of those hours, not the warehouse's size). Hours are counted in UTC (24 h a day,
-- whatever the session's time zone). In psql:
--   \set as_of now() \set window_hours 6 \set baseline_days 7 \set min_messages 100
--   \set drop_percent 25
with hours as (
    select
        d                                                                 as days_back,
        date_trunc('hour', cast(:as_of as timestamptz), 'UTC')
            - make_interval(hours => 24 * d + cast(:window_hours as int) - 1) as first_hour,
        date_trunc('hour', cast(:as_of as timestamptz), 'UTC')
            - make_interval(hours => 24 * d)                              as last_hour
    from generate_series(0, cast(:baseline_days as int)) as d
),

outcomes as (
    select
        d.provider,
        d.account,
        d.sender,
        h.days_back = 0                      as in_window,
        o.outcome,
        o.status,
        o.reason,
        sum(o.messages)::bigint              as messages
    from hours as h
    join sms.campaign_outcome_hour as o
        on o.known_hour between h.first_hour and h.last_hour
    join sms.dim_campaign as d using (provider, campaign_id)
    group by 1, 2, 3, 4, 5, 6, 7
),

categorised as (
    select o.*, coalesce(m.category, 'other') as category
    from outcomes as o
    left join lateral (
        select m.category
        from sms.failure_category_map as m
        where o.outcome = 'failed'
          and m.provider = o.provider
          and (
              (m.reason_kind = 'twilio_code'
               and o.reason ~ ('(^|[^0-9])' || m.pattern || '([^0-9]|$)'))
              or (m.reason_kind = 'error_message' and o.reason ilike m.pattern)
              or (m.reason_kind = 'status' and o.status = m.pattern)
              or (m.reason_kind = 'counter' and o.reason = m.pattern)
          )
        order by
            case m.reason_kind when 'twilio_code' then 1 when 'error_message' then 2 else 3 end,
            length(m.pattern) desc,
            m.category
        limit 1
    ) as m on true
),

segments as (
    select
        provider,
        account,
        sender,
        sum(messages) filter (where in_window)::bigint                          as messages,
        sum(messages) filter (where in_window and outcome = 'delivered')::bigint as delivered,
        coalesce(sum(messages) filter (where not in_window), 0)::bigint         as baseline_messages,
        coalesce(sum(messages) filter (where not in_window and outcome = 'delivered'), 0)::bigint
                                                                                as baseline_delivered
    from categorised
    group by 1, 2, 3
),

rated as (
    select
        s.*,
        round(coalesce(s.delivered, 0)::numeric / nullif(s.messages, 0), 4)      as delivery_rate,
        round(s.baseline_delivered::numeric / nullif(s.baseline_messages, 0), 4) as baseline_rate
    from segments as s
    where s.messages is not null
),

flagged as (
    select
        r.*,
        round(100 * (1 - r.delivery_rate / nullif(r.baseline_rate, 0)), 1) as drop_percent,
        coalesce(
            r.messages >= cast(:min_messages as int)
            and r.baseline_messages >= cast(:min_messages as int)
            and r.delivery_rate
                < r.baseline_rate * (1 - cast(:drop_percent as numeric) / 100),
            false
        )                                                                   as flagged
    from rated as r
),

category_shares as (
    select
        c.provider,
        c.account,
        c.sender,
        c.category,
        round(100.0 * coalesce(sum(c.messages) filter (where c.in_window), 0)
              / nullif(f.messages, 0), 1)                                   as percent_now,
        round(100.0 * coalesce(sum(c.messages) filter (where not c.in_window), 0)
              / nullif(f.baseline_messages, 0), 1)                          as percent_baseline
    from categorised as c
    join flagged as f using (provider, account, sender)
    where c.outcome = 'failed' and f.flagged
    group by c.provider, c.account, c.sender, c.category, f.messages, f.baseline_messages
)

select
    f.provider,
    f.account,
    f.sender,
    f.provider || '/' || f.account || '/'
    || case when f.sender ~ '^\+[0-9]{8,15}$' then '…' || right(f.sender, 4)
            else coalesce(f.sender, '') end                          as segment,
    f.messages,
    coalesce(f.delivered, 0)                                         as delivered,
    f.delivery_rate,
    f.baseline_messages,
    f.baseline_rate,
    f.drop_percent,
    f.flagged,
    (
        select json_object_agg(
            s.category,
            json_build_object('percent_now', s.percent_now,
                               'percent_baseline', s.percent_baseline)
            order by s.percent_now - s.percent_baseline desc
        )
        from category_shares as s
        where (s.provider, s.account, s.sender) = (f.provider, f.account, f.sender)
          and s.percent_now > s.percent_baseline
    )                                                                as grown_categories
from flagged as f
order by f.flagged desc, f.provider, f.account, f.sender;
