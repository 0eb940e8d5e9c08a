-- How long polling has left the campaigns it watches unread, per account of one provider at
-- :now. Grain: one row per (provider, account) with a watched campaign (not settled, not
-- vanished): how many it watches, and the one read longest ago (a campaign never read
-- counts from when it was first seen), with that read's age in minutes.
-- Cost: as sql/checks/unsettled_campaigns_are_read_in_time.sql, whose rule this measures:
-- the accounts by a loose scan of campaign_poll_state_watch_idx (provider, account,
-- settles_at), each account's watched campaigns (planned per account: OFFSET 0) as the
-- ranges settles_at null or after :now of the same index (settled is settles_at <= now:
-- load/settle_campaign.sql).
with recursive accounts as (
    (
        select account
        from sms.campaign_poll_state
        where provider = :provider
        order by account
        limit 1
    )
    union all
    select next.account
    from accounts as a
    cross join lateral (
        select s.account
        from sms.campaign_poll_state as s
        where s.provider = :provider and s.account > a.account
        order by s.account
        limit 1
    ) as next
),

watched as (
    select
        a.account,
        s.campaign_id,
        s.last_polled_at is null as never_read,
        coalesce(s.last_polled_at, s.first_seen_at) as read_or_seen_at
    from accounts as a
    cross join lateral (
        select
            c.campaign_id,
            c.first_seen_at,
            -- A Nixflex draft or scheduled campaign is read by being listed: nothing of
            -- it was sent.
            case when d.status in ('draft', 'scheduled') and c.provider = 'nixflex'
                 then greatest(c.last_polled_at, c.last_listed_at)
                 else c.last_polled_at end as last_polled_at
        from sms.campaign_poll_state as c
        left join sms.dim_campaign as d
            on d.provider = c.provider and d.campaign_id = c.campaign_id
        where c.provider = :provider
          and c.account = a.account
          and (c.settles_at is null or c.settles_at > cast(:now as timestamptz))
          and c.vanished_at is null
        offset 0
    ) as s
),

final as (
    select distinct on (account)
        account,
        count(*) over (partition by account) as unsettled_campaigns,
        campaign_id                          as oldest_campaign_id,
        never_read                           as oldest_never_read,
        read_or_seen_at                      as oldest_read_at,
        extract(epoch from cast(:now as timestamptz) - read_or_seen_at) / 60
                                             as oldest_read_minutes
    from watched
    order by account, read_or_seen_at, campaign_id
)

select * from final
order by account;
