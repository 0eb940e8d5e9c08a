-- Insert the sms.campaign_outcome_hour rows of one campaign (:provider, :campaign_id),
-- recounted from its facts as they stand in this transaction, right after the loader wrote
-- them and cleared the campaign's old rows (clear_campaign_aggregates.sql). Nixflex: its
-- listed recipients that are delivered or failed, in the hour the warehouse saw their
-- outcome (a still-sent one in the hour after the one holding the later of its status
-- change and sent_at + 1 hour); SMSFactor: the growth of delivered and of each failed
-- counter from one counters snapshot to the next, in the hour of the later one. Reads only
-- the campaign's own rows (sms.recipient_delivery's key, sms.fact_campaign_counters' key).
with nixflex as (
    select
        'nixflex'::text                                                     as provider,
        campaign_id,
        case when status = 'sent'
             then date_trunc('hour', greatest(coalesce(status_changed_at, first_seen_at),
                                              sent_at + interval '1 hour'), 'UTC')
                  + interval '1 hour'
             else date_trunc('hour', coalesce(status_changed_at, first_seen_at), 'UTC')
        end                                                                 as known_hour,
        delivery_bucket                                                     as outcome,
        status,
        case when delivery_bucket = 'failed' then error_message end         as reason,
        count(*)::bigint                                                    as messages
    from sms.recipient_delivery
    where cast(:provider as text) = 'nixflex'
      and campaign_id = cast(:campaign_id as text)
      and missing_since is null
      and delivery_bucket in ('delivered', 'failed')
    group by 2, 3, 4, 5, 6
),

growth as (
    select
        campaign_id,
        observed_at,
        delivered - coalesce(lag(delivered) over w, 0)         as delivered,
        error - coalesce(lag(error) over w, 0)                 as error,
        expired - coalesce(lag(expired) over w, 0)             as expired,
        network_error - coalesce(lag(network_error) over w, 0) as network_error
    from sms.fact_campaign_counters
    where cast(:provider as text) = 'smsfactor' and campaign_id = cast(:campaign_id as text)
    window w as (order by observed_at)
),

smsfactor as (
    select
        'smsfactor'::text                           as provider,
        g.campaign_id,
        date_trunc('hour', g.observed_at, 'UTC')    as known_hour,
        o.outcome,
        null::text                                  as status,
        o.reason,
        sum(o.messages)::bigint                     as messages
    from growth as g
    cross join lateral (
        values
            ('delivered', null, g.delivered::bigint),
            ('failed', 'error', g.error::bigint),
            ('failed', 'expired', g.expired::bigint),
            ('failed', 'network_error', g.network_error::bigint)
    ) as o (outcome, reason, messages)
    group by 2, 3, 4, 6
    having sum(o.messages) <> 0
)

insert into sms.campaign_outcome_hour (
    provider, campaign_id, known_hour, outcome, status, reason, messages
)
select * from nixflex
union all
select * from smsfactor;
