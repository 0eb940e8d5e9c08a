-- Add an sms.fact_campaign_counters snapshot for one SMSFactor campaign read at
-- :observed_at, unless its counters equal the campaign's previous snapshot.
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
    from (
        select *
        from sms.fact_campaign_counters
        where campaign_id = cast(:campaign_id as text)
          and observed_at <= cast(:observed_at as timestamptz)
        order by observed_at desc
        limit 1
    ) as previous
    where (previous.status, previous.total, previous.delivered, previous.error,
           previous.expired, previous.network_error, previous.stop, previous.npai,
           previous.delivery_rate, previous.cost)
          is not distinct from
          (cast(:status as text), cast(:total as integer), cast(:delivered as integer),
           cast(:error as integer), cast(:expired as integer),
           cast(:network_error as integer), cast(:stop as integer), cast(:npai as integer),
           cast(:delivery_rate as numeric), cast(:cost as numeric))
)
on conflict (campaign_id, observed_at) do nothing;
