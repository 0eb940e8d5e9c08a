-- The campaign's own data was fetched and landed at :at (a detail, or its history row).
-- :summary_hash is the list summary that led to the fetch (NULL keeps the previous one).
insert into sms.campaign_poll_state as s (
    provider, campaign_id, account, first_seen_at, last_polled_at, polls, summary_hash
) values (
    :provider, :campaign_id, :account, :at, :at, 1, :summary_hash
)
on conflict (provider, campaign_id) do update set
    account              = excluded.account,
    first_seen_at        = least(s.first_seen_at, excluded.first_seen_at),
    last_polled_at       = greatest(s.last_polled_at, excluded.last_polled_at),
    polls                = s.polls + 1,
    summary_hash         = coalesce(excluded.summary_hash, s.summary_hash),
    vanished_at          = null,
    refresh_requested_at = case
        when s.refresh_requested_at <= excluded.last_polled_at then null
        else s.refresh_requested_at
    end;
