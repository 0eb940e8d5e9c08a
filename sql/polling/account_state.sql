-- When discovery last read this account's whole list (NULL: never, so read it all).
select last_full_pass_at
from sms.account_poll_state
where provider = :provider and account = :account;
