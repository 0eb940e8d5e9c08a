-- Add an sms.fact_campaign_counters snapshot for one SMSFactor campaign read at
-- :observed_at, unless its counters equal the campaign's previous snapshot. Returns one
-- row: `inserted` (0 or 1), `first_sight` (no previous snapshot), and `delivery_moved`,
-- true when a previous snapshot exists and its status or delivery counters differ
-- (messages are still moving: settlement counts from now, not from the send date shown).
with previous as (
    select status, total, delivered, error, expired, network_error, stop, npai,
           delivery_rate, cost
    from sms.fact_campaign_counters
    where campaign_id = cast(:campaign_id as text)
      and observed_at <= cast(:observed_at as timestamptz)
    order by observed_at desc
    limit 1
),
inserted as (
    insert into sms.fact_campaign_counters (
        provider, campaign_id, observed_at, status, total, delivered, error, expired,
        network_error, stop, npai, delivery_rate, cost
    )
    select
        'smsfactor', cast(:campaign_id as text), cast(:observed_at as timestamptz),
        cast(:status as text), cast(:total as integer), cast(:delivered as integer),
        cast(:error as integer), cast(:expired as integer), cast(:network_error as integer),
        cast(:stop as integer), cast(:npai as integer), cast(:delivery_rate as numeric),
        cast(:cost as numeric)
    where not exists (
        select 1
        from previous
        where (previous.status, previous.total, previous.delivered, previous.error,
               previous.expired, previous.network_error, previous.stop, previous.npai,
               previous.delivery_rate, previous.cost)
              is not distinct from
              (cast(:status as text), cast(:total as integer), cast(:delivered as integer),
               cast(:error as integer), cast(:expired as integer),
               cast(:network_error as integer), cast(:stop as integer),
               cast(:npai as integer), cast(:delivery_rate as numeric),
               cast(:cost as numeric))
    )
    on conflict (campaign_id, observed_at) do nothing
    returning 1
)
select
    (select count(*) from inserted) as inserted,
    not exists (select 1 from previous) as first_sight,
    coalesce((
        select (p.status, p.total, p.delivered, p.error, p.expired, p.network_error)
               is distinct from
               (cast(:status as text), cast(:total as integer), cast(:delivered as integer),
                cast(:error as integer), cast(:expired as integer),
                cast(:network_error as integer))
        from previous as p
    ), false) as delivery_moved;
