-- A list / history page showed this campaign at :at.
insert into sms.campaign_poll_state as s (
    provider, campaign_id, account, created_at, first_seen_at, last_listed_at
) values (
    :provider, :campaign_id, :account, :created_at, :at, :at
)
on conflict (provider, campaign_id) do update set
    account        = excluded.account,
    created_at     = coalesce(excluded.created_at, s.created_at),
    first_seen_at  = least(s.first_seen_at, excluded.first_seen_at),
    last_listed_at = greatest(s.last_listed_at, excluded.last_listed_at),
    vanished_at    = null;
