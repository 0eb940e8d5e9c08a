-- Insert the sms.campaign_outcome rows of one campaign (:provider, :campaign_id), recounted
-- from its facts as they stand in this transaction, right after the loader wrote them and
-- cleared the campaign's old rows (clear_campaign_aggregates.sql). Nixflex: the recipients
-- its latest answer lists, grouped as the table says; SMSFactor: its latest counters
-- snapshot, six rows. Reads only the campaign's own rows (sms.recipient_delivery's key,
-- sms.fact_campaign_counters' key), at any warehouse size.
with nixflex as (
    select
        'nixflex'::text                                                          as provider,
        campaign_id,
        delivery_bucket                                                          as outcome,
        status,
        case when delivery_bucket = 'failed' then error_message end              as reason,
        (coalesce(sent_at, status_changed_at, first_seen_at) at time zone 'UTC')::date
                                                                                 as message_day,
        sent_at is not null                                                      as sent,
        country,
        count(*)::bigint                                                         as messages
    from sms.recipient_delivery
    where cast(:provider as text) = 'nixflex'
      and campaign_id = cast(:campaign_id as text)
      and missing_since is null
    group by 2, 3, 4, 5, 6, 7, 8
),

latest_counters as (
    select *
    from sms.fact_campaign_counters
    where cast(:provider as text) = 'smsfactor' and campaign_id = cast(:campaign_id as text)
    order by observed_at desc
    limit 1
),

smsfactor as (
    select
        'smsfactor'::text as provider,
        l.campaign_id,
        o.outcome,
        null::text        as status,
        o.reason,
        null::date        as message_day,
        null::boolean     as sent,
        null::text        as country,
        o.messages
    from latest_counters as l
    cross join lateral (
        values
            ('delivered', null, l.delivered::bigint),
            ('failed', 'error', l.error::bigint),
            ('failed', 'expired', l.expired::bigint),
            ('failed', 'network_error', l.network_error::bigint),
            ('npai', null, l.npai::bigint),
            ('pending', null,
             l.total::bigint - l.delivered - l.error - l.expired - l.network_error - l.npai)
    ) as o (outcome, reason, messages)
)

insert into sms.campaign_outcome (
    provider, campaign_id, outcome, status, reason, message_day, sent, country, messages
)
select * from nixflex
union all
select * from smsfactor;
