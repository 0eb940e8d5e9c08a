-- Rule: polling re-reads each campaign it still watches (not settled, not vanished) at least
-- every recheck_minutes (PollingResource, default 60), and a sync starts every 15 minutes,
-- so no such campaign's own data (a Nixflex detail, an SMSFactor history row; for a Nixflex
-- draft or scheduled campaign, its list row) is older than :stale_after_minutes =
-- recheck_minutes + 15 (75 by default). Lists each watched campaign of
-- either vendor last read longer ago than that (never read: first seen longer ago than that).
-- No rows = pass. Severity: WARN (its figures are late, not wrong: polling is falling behind).
-- Scope: every watched campaign, after each sync as daily. In psql: \set stale_after_minutes 75
-- Cost: settled is settles_at <= now() (a final campaign 72 h after its last message, one
-- that never becomes final 72 h after its last change), so a watched campaign has
-- settles_at null or in the future: per account, two
-- ranges of campaign_poll_state_watch_idx (provider, account, settles_at). The accounts come
-- from the same index, one step each (a loose index scan); the lateral subquery with OFFSET 0
-- is planned per account, so both columns reach the index. The check reads what polling
-- watches, however many campaigns have settled.
with recursive accounts as (
    (
        select provider, account
        from sms.campaign_poll_state
        order by provider, account
        limit 1
    )
    union all
    select next.provider, next.account
    from accounts as a
    cross join lateral (
        select s.provider, s.account
        from sms.campaign_poll_state as s
        where (s.provider, s.account) > (a.provider, a.account)
        order by s.provider, s.account
        limit 1
    ) as next
),

watched as (
    select
        a.provider,
        s.campaign_id,
        a.account,
        s.last_polled_at,
        s.first_seen_at,
        coalesce(s.last_polled_at, s.first_seen_at) as read_or_seen_at
    from accounts as a
    cross join lateral (
        select
            c.campaign_id,
            c.first_seen_at,
            -- A Nixflex draft or scheduled campaign has sent nothing: its list row, read
            -- every sync, is all that can change.
            case when d.status in ('draft', 'scheduled') and c.provider = 'nixflex'
                 then greatest(c.last_polled_at, c.last_listed_at)
                 else c.last_polled_at end as last_polled_at
        from sms.campaign_poll_state as c
        left join sms.dim_campaign as d
            on d.provider = c.provider and d.campaign_id = c.campaign_id
        where c.provider = a.provider
          and c.account = a.account
          and (c.settles_at is null or c.settles_at > now())
          and c.vanished_at is null
        offset 0
    ) as s
)

select
    provider,
    campaign_id,
    account,
    last_polled_at,
    first_seen_at,
    round(extract(epoch from now() - read_or_seen_at) / 60, 1) as minutes_unread
from watched
where read_or_seen_at
      < now() - cast(:stale_after_minutes as double precision) * interval '1 minute'
order by provider, account, read_or_seen_at, campaign_id;
