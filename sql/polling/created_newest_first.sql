-- Creation instants of one account's campaigns, newest first: the order of the Nixflex list.
select created_at
from sms.campaign_poll_state
where provider = :provider and account = :account and created_at is not null
order by created_at desc;
