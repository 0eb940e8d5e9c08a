-- What the loaded answer (fetched at :observed_at) says about the campaign's settlement,
-- and that it was loaded now (last_loaded_at, for the checks after a sync). An older answer
-- never overwrites what a newer one said.
insert into sms.campaign_poll_state as s (
    provider, campaign_id, account, created_at, first_seen_at, last_changed_at, is_final,
    last_sent_at, settles_at, state_as_of, last_loaded_at
) values (
    :provider, :campaign_id, :account, :created_at, :observed_at, :changed_at, :is_final,
    :last_sent_at, :settles_at, :observed_at, now()
)
on conflict (provider, campaign_id) do update set
    last_loaded_at  = now(),
    first_seen_at   = least(s.first_seen_at, excluded.first_seen_at),
    last_changed_at = greatest(s.last_changed_at, excluded.last_changed_at),
    created_at      = case when s.state_as_of is null or s.state_as_of <= excluded.state_as_of
                           then coalesce(excluded.created_at, s.created_at)
                           else s.created_at end,
    is_final        = case when s.state_as_of is null or s.state_as_of <= excluded.state_as_of
                           then excluded.is_final else s.is_final end,
    last_sent_at    = case when s.state_as_of is null or s.state_as_of <= excluded.state_as_of
                           then excluded.last_sent_at else s.last_sent_at end,
    -- Still final: the later bound holds (activity seen once is not undone by a read
    -- that shows none).
    settles_at      = case when s.state_as_of is null or s.state_as_of <= excluded.state_as_of
                           then case when s.is_final and excluded.is_final
                                     then greatest(s.settles_at, excluded.settles_at)
                                     else excluded.settles_at end
                           else s.settles_at end,
    state_as_of     = greatest(s.state_as_of, excluded.state_as_of);
