-- What the loaded answer (fetched at :observed_at) says about the campaign's settlement.
-- An older answer never overwrites what a newer one said.
insert into sms.campaign_poll_state as s (
    provider, campaign_id, account, created_at, first_seen_at, last_changed_at, is_final,
    last_sent_at, settles_at, state_as_of
) values (
    :provider, :campaign_id, :account, :created_at, :observed_at, :changed_at, :is_final,
    :last_sent_at, :settles_at, :observed_at
)
on conflict (provider, campaign_id) do update set
    created_at      = coalesce(excluded.created_at, s.created_at),
    first_seen_at   = least(s.first_seen_at, excluded.first_seen_at),
    last_changed_at = greatest(s.last_changed_at, excluded.last_changed_at),
    is_final        = excluded.is_final,
    last_sent_at    = excluded.last_sent_at,
    settles_at      = excluded.settles_at,
    state_as_of     = excluded.state_as_of
where s.state_as_of is null or s.state_as_of <= excluded.state_as_of;
