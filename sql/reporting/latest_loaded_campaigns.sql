-- The campaigns each vendor's loads touched last (five each): the UI's preview tables show
-- their rows, found by index, instead of sorting a whole fact table for its newest rows.
(
    select campaign_id from sms.campaign_poll_state
    where provider = 'nixflex' and last_loaded_at is not null
    order by last_loaded_at desc, campaign_id
    limit 5
)
union all
(
    select campaign_id from sms.campaign_poll_state
    where provider = 'smsfactor' and last_loaded_at is not null
    order by last_loaded_at desc, campaign_id
    limit 5
);
