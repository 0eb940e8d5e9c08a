-- What the loaded answer (fetched at :observed_at) says about the campaign's settlement,
-- and that it was loaded now (last_loaded_at, for the checks after a sync). An older answer
-- never overwrites what a newer one said.
-- settles_at: a final campaign's is :settles_at (its last message + the settle window; when
-- still final, the later bound holds: activity seen once is not undone by a read that shows
-- none). A campaign that is not final settles anyway :settle_window after the latest of its
-- last change, its last message (or schedule) and when it was first seen: one the vendor
-- never calls final (a Nixflex `done` with recipients still pending, an undocumented
-- SMSFactor status) is then not re-read every hour for ever (docs/polling.md).
-- Capped at :end_of_time (loader.END_OF_TIME), the last instant every session can read back.
insert into sms.campaign_poll_state as s (
    provider, campaign_id, account, created_at, first_seen_at, last_changed_at, is_final,
    last_sent_at, settles_at, state_as_of, last_loaded_at
) values (
    :provider, :campaign_id, :account, :created_at, :observed_at, :changed_at, :is_final,
    :last_sent_at,
    case when :is_final then cast(:settles_at as timestamptz)
         else least(
             greatest(cast(:changed_at as timestamptz), cast(:last_sent_at as timestamptz),
                      cast(:observed_at as timestamptz))
             + cast(:settle_window as interval),
             cast(:end_of_time as timestamptz)
         ) end,
    :observed_at, now()
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
    settles_at      = case when s.state_as_of is not null and s.state_as_of > excluded.state_as_of
                           then s.settles_at
                           when excluded.is_final and s.is_final
                           then greatest(s.settles_at, excluded.settles_at)
                           when excluded.is_final
                           then excluded.settles_at
                           else least(
                               greatest(s.last_changed_at, excluded.last_changed_at,
                                        excluded.last_sent_at,
                                        least(s.first_seen_at, excluded.first_seen_at))
                               + cast(:settle_window as interval),
                               cast(:end_of_time as timestamptz)
                           ) end,
    state_as_of     = greatest(s.state_as_of, excluded.state_as_of);
