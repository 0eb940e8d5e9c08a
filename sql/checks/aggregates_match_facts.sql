-- Rule: the aggregates the loader keeps beside the facts, which the dashboards' views read,
-- equal the facts. For each campaign in scope, sms.campaign_outcome equals its outcomes
-- recounted from sms.fact_recipient_delivery (Nixflex) or from its latest
-- sms.fact_campaign_counters snapshot (SMSFactor), and sms.campaign_delivery_time equals
-- its recipients of sms.recipient_time_to_delivery's rule counted in the same buckets, and
-- sms.campaign_outcome_hour equals its final outcomes by the hour the warehouse learnt them
-- (Nixflex: from sms.fact_recipient_delivery; SMSFactor: each snapshot's counters less the
-- previous snapshot's); recounted here (from the facts' views, and for the times from the
-- observations behind sms.fact_recipient_status_change: first sight and later changes),
-- not by the loader's SQL. Lists each differing campaign and aggregate with how many rows
-- differ (either way).
-- No rows = pass. Severity: ERROR.
-- Scope: :since NULL checks every campaign; a time checks only the campaigns loaded since
-- then (sms.campaign_poll_state.last_loaded_at), as after a sync. In psql: \set since null
-- Cost: each campaign in scope is recounted on its own (lateral subqueries with OFFSET 0,
-- planned per campaign, so the campaign id reaches the facts' keys): after a sync, what
-- that sync loaded; in full_checks, every recipient and every observed change once.
with in_scope as materialized (
    select provider, campaign_id from sms.campaign_poll_state
    where cast(:since as timestamptz) is null or last_loaded_at >= cast(:since as timestamptz)
),

recipients_counted as (
    select 'nixflex'::text as provider, s.campaign_id, r.*
    from in_scope as s
    cross join lateral (
        select
            f.delivery_bucket                                                   as outcome,
            f.status,
            case when f.delivery_bucket = 'failed' then f.error_message end     as reason,
            (coalesce(f.sent_at, f.status_changed_at) at time zone 'UTC')::date as message_day,
            f.sent_at is not null                                               as sent,
            f.country,
            count(*)                                                            as messages
        from sms.fact_recipient_delivery as f
        where f.campaign_id = s.campaign_id
        group by 1, 2, 3, 4, 5, 6
        offset 0
    ) as r
    where s.provider = 'nixflex'
),

counters_counted as (
    select
        'smsfactor'::text as provider,
        s.campaign_id,
        r.outcome,
        null::text        as status,
        r.reason,
        null::date        as message_day,
        null::boolean     as sent,
        null::text        as country,
        r.messages
    from in_scope as s
    cross join lateral (
        select c.*
        from sms.fact_campaign_counters as c
        where c.campaign_id = s.campaign_id
        order by c.observed_at desc
        limit 1
    ) as c
    cross join lateral (
        values
            ('delivered', null, c.delivered::bigint),
            ('failed', 'error', c.error::bigint),
            ('failed', 'expired', c.expired::bigint),
            ('failed', 'network_error', c.network_error::bigint),
            ('npai', null, c.npai::bigint),
            ('pending', null, c.total::bigint - c.delivered::bigint - c.error::bigint
                              - c.expired::bigint - c.network_error::bigint - c.npai::bigint)
    ) as r (outcome, reason, messages)
    where s.provider = 'smsfactor'
),

expected_outcome as (
    select * from recipients_counted
    union all
    select * from counters_counted
),

held_outcome as (
    select o.provider, o.campaign_id, o.outcome, o.status, o.reason, o.message_day, o.sent,
           o.country, o.messages
    from sms.campaign_outcome as o
    join in_scope as s using (provider, campaign_id)
),

outcome_differs as (
    (select * from expected_outcome except all select * from held_outcome)
    union all
    (select * from held_outcome except all select * from expected_outcome)
),

-- Per phone of the campaign, one pass over its observations (first sight and later
-- changes): the first poll that saw it delivered after first sight, whether it was
-- delivered at first sight, its sent_at and whether it is listed and delivered now.
expected_time as (
    select 'nixflex'::text as provider, s.campaign_id, b.seconds_at_most, b.recipients
    from in_scope as s
    cross join lateral (
        select
            case when m.seconds = 0 then 0::bigint
                 else floor(power(1.1::float8, ceil(ln(m.seconds::float8) / ln(1.1::float8)))
                            + 1e-9)::bigint
            end                 as seconds_at_most,
            count(*)::bigint    as recipients
        from (
            select extract(epoch from p.first_delivered - p.sent_at)::bigint as seconds
            from (
                select
                    u.phone,
                    bool_or(u.delivered_now)                                      as delivered_now,
                    max(u.sent_at)                                                as sent_at,
                    min(u.observed_at) filter (
                        where not u.first_sight and u.to_status = 'delivered'
                    )                                                             as first_delivered,
                    bool_or(u.first_sight and u.to_status = 'delivered')          as at_first_sight
                from (
                    select t.phone, t.observed_at, t.to_status, false as first_sight,
                           null::timestamptz as sent_at, false as delivered_now
                    from sms.recipient_status_transition as t
                    where t.campaign_id = s.campaign_id
                    union all
                    -- its first observation, and (listed) its current state
                    select r.phone, r.first_seen_at, coalesce(r.first_status, r.status), true,
                           r.sent_at, r.missing_since is null and r.status = 'delivered'
                    from sms.recipient_delivery as r
                    where r.campaign_id = s.campaign_id
                ) as u
                group by u.phone
            ) as p
            where p.delivered_now
              and p.sent_at is not null
              and not p.at_first_sight
              and p.first_delivered >= p.sent_at
        ) as m
        group by 1
        offset 0
    ) as b
    where s.provider = 'nixflex'
),

held_time as (
    select t.provider, t.campaign_id, t.seconds_at_most, t.recipients
    from sms.campaign_delivery_time as t
    join in_scope as s using (provider, campaign_id)
),

time_differs as (
    (select * from expected_time except all select * from held_time)
    union all
    (select * from held_time except all select * from expected_time)
),

-- Per campaign, its delivered and failed messages by the UTC hour they became known: a
-- Nixflex recipient at its status_changed_at, one still sent in the hour after the one
-- holding the later of that and sent_at + 1 hour; an SMSFactor counter's growth since the
-- previous snapshot at the snapshot's hour.
expected_hour as (
    select s.provider, s.campaign_id, h.known_hour, h.outcome, h.status, h.reason, h.messages
    from in_scope as s
    cross join lateral (
        select
            x.known_hour, x.outcome, x.status, x.reason, sum(x.messages)::bigint as messages
        from (
            select
                case when f.status <> 'sent' then date_trunc('hour', f.status_changed_at, 'UTC')
                     when f.sent_at is null
                         or f.status_changed_at >= f.sent_at + interval '1 hour'
                         then date_trunc('hour', f.status_changed_at, 'UTC') + interval '1 hour'
                     else date_trunc('hour', f.sent_at + interval '1 hour', 'UTC')
                          + interval '1 hour'
                end                                                                as known_hour,
                f.delivery_bucket                                                  as outcome,
                f.status,
                case when f.delivery_bucket = 'failed' then f.error_message end    as reason,
                1::bigint                                                          as messages
            from sms.fact_recipient_delivery as f
            where s.provider = 'nixflex'
              and f.campaign_id = s.campaign_id
              and f.delivery_bucket in ('delivered', 'failed')
            union all
            select date_trunc('hour', c.observed_at, 'UTC'), v.outcome, null, v.reason,
                   v.now_value - coalesce(v.before_value, 0)
            from (
                select
                    c.*,
                    lag(c.delivered) over w     as delivered_before,
                    lag(c.error) over w         as error_before,
                    lag(c.expired) over w       as expired_before,
                    lag(c.network_error) over w as network_error_before
                from sms.fact_campaign_counters as c
                where s.provider = 'smsfactor' and c.campaign_id = s.campaign_id
                window w as (order by c.observed_at)
            ) as c
            cross join lateral (
                values
                    ('delivered', null, c.delivered::bigint, c.delivered_before::bigint),
                    ('failed', 'error', c.error::bigint, c.error_before::bigint),
                    ('failed', 'expired', c.expired::bigint, c.expired_before::bigint),
                    ('failed', 'network_error', c.network_error::bigint,
                     c.network_error_before::bigint)
            ) as v (outcome, reason, now_value, before_value)
        ) as x
        group by 1, 2, 3, 4
        having sum(x.messages) <> 0
        offset 0
    ) as h
),

held_hour as (
    select h.provider, h.campaign_id, h.known_hour, h.outcome, h.status, h.reason, h.messages
    from sms.campaign_outcome_hour as h
    join in_scope as s using (provider, campaign_id)
),

hour_differs as (
    (select * from expected_hour except all select * from held_hour)
    union all
    (select * from held_hour except all select * from expected_hour)
)

select provider, campaign_id, 'sms.campaign_outcome' as aggregate, count(*) as rows_differing
from outcome_differs
group by provider, campaign_id
union all
select provider, campaign_id, 'sms.campaign_delivery_time', count(*)
from time_differs
group by provider, campaign_id
union all
select provider, campaign_id, 'sms.campaign_outcome_hour', count(*)
from hour_differs
group by provider, campaign_id
order by provider, campaign_id, aggregate;
