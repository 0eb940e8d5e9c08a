-- One poll of one account finished at :at; :full_pass says discovery read the whole list.
insert into sms.account_poll_state as a (
    provider, account, last_sync_at, last_full_pass_at, last_outcome
) values (
    :provider, :account, :at, case when :full_pass then cast(:at as timestamptz) end, :outcome
)
on conflict (provider, account) do update set
    last_sync_at      = excluded.last_sync_at,
    last_full_pass_at = coalesce(excluded.last_full_pass_at, a.last_full_pass_at),
    last_outcome      = excluded.last_outcome;
