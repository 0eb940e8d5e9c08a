-- sms.campaign_outcome_hour — grain: one row per (provider, campaign_id, known_hour, outcome,
-- status, reason): how many of a campaign's messages reached a final outcome (delivered or
-- failed) in each UTC hour, by when the warehouse learnt it. Kept by the loader beside
-- sms.campaign_outcome so that the check delivery_rate_is_normal compares a sender's recent
-- hours with the same hours of past days by reading a few rows per campaign and hour, never
-- the recipients.
--
--   * Nixflex: the recipients the campaign's latest answer lists whose delivery_bucket is
--     delivered or failed, in the hour of their last status change (first sight if none):
--     the poll that first saw the outcome. A recipient still sent (handed to the carrier, no
--     receipt yet) is failed by the documented rule, but a receipt normally follows within
--     minutes: it counts in the hour after the one holding the later of its status change
--     and sent_at + 1 hour, so messages in flight are not counted as failures. reason is the
--     error message of failed recipients (NULL otherwise).
--   * SMSFactor: how much delivered and each failed counter (error, expired,
--     network_error: reason) grew from one sms.fact_campaign_counters snapshot to the next,
--     in the hour of the later snapshot (a campaign's first snapshot: its values, in its
--     hour). A counter that went down gives a negative row; hours where the growth sums to
--     zero have none. status is NULL.
--
-- The campaign's account and sender are not stored: the check joins sms.dim_campaign. The
-- loader rewrites a campaign's rows (sql/load/clear_campaign_aggregates.sql, then
-- insert_campaign_outcome_hour.sql) in the transaction that writes its facts; the check
-- aggregates_match_facts recounts them.
--
-- This migration fills it for a warehouse that already holds facts: one INSERT … SELECT that
-- reads every listed recipient and every counters snapshot once (docs/deployment.md,
-- "Upgrades"). It also gives sms.campaign_outcome a partial index on the campaigns with
-- messages still pending, which the check campaigns_are_not_stuck reads.
create table sms.campaign_outcome_hour (
    provider    text not null check (provider in ('nixflex', 'smsfactor')),
    campaign_id text collate "C" not null,
    known_hour  timestamptz not null,
    outcome     text not null check (outcome in ('delivered', 'failed')),
    status      text,
    reason      text,
    messages    bigint not null
);

create index campaign_outcome_hour_campaign_idx
    on sms.campaign_outcome_hour (provider, campaign_id);
create index campaign_outcome_hour_hour_idx on sms.campaign_outcome_hour (known_hour);
create index campaign_outcome_pending_idx
    on sms.campaign_outcome (provider, campaign_id)
    where outcome = 'pending' and messages > 0;

comment on table sms.campaign_outcome_hour is
    'Messages per campaign that reached a final outcome (delivered or failed) in each UTC hour, by when the warehouse learnt it (Nixflex: the recipient''s last status change, a still-sent one an hour after sending at the earliest; SMSFactor: the growth of its counters between snapshots). Kept by the loader in the transaction that writes the campaign''s facts; read by the check delivery_rate_is_normal.';
comment on column sms.campaign_outcome_hour.provider is 'nixflex or smsfactor.';
comment on column sms.campaign_outcome_hour.campaign_id is 'The vendor''s campaign id (sms.dim_campaign).';
comment on column sms.campaign_outcome_hour.known_hour is 'The UTC hour (its start) in which the warehouse learnt these outcomes.';
comment on column sms.campaign_outcome_hour.outcome is 'delivered or failed (Nixflex delivery_bucket; SMSFactor delivered, or error + expired + network_error).';
comment on column sms.campaign_outcome_hour.status is 'Nixflex: the recipients'' status; NULL for SMSFactor.';
comment on column sms.campaign_outcome_hour.reason is 'Failed messages only: Nixflex the error message as Twilio gave it; SMSFactor the counter (error, expired, network_error). NULL for delivered.';
comment on column sms.campaign_outcome_hour.messages is 'Messages (SMSFactor: a counter''s growth, negative when the vendor''s counter went down).';

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.campaign_outcome_hour to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.campaign_outcome_hour to sms_loader;
    end if;
end
$$;

insert into sms.campaign_outcome_hour (
    provider, campaign_id, known_hour, outcome, status, reason, messages
)
select
    'nixflex',
    campaign_id,
    case when status = 'sent'
         then date_trunc('hour', greatest(coalesce(status_changed_at, first_seen_at),
                                          sent_at + interval '1 hour'), 'UTC')
              + interval '1 hour'
         else date_trunc('hour', coalesce(status_changed_at, first_seen_at), 'UTC')
    end,
    delivery_bucket,
    status,
    case when delivery_bucket = 'failed' then error_message end,
    count(*)
from sms.recipient_delivery
where missing_since is null and delivery_bucket in ('delivered', 'failed')
group by 1, 2, 3, 4, 5, 6
union all
select 'smsfactor', g.campaign_id, date_trunc('hour', g.observed_at, 'UTC'), o.outcome, null,
       o.reason, sum(o.messages)
from (
    select
        campaign_id,
        observed_at,
        delivered - coalesce(lag(delivered) over w, 0)         as delivered,
        error - coalesce(lag(error) over w, 0)                 as error,
        expired - coalesce(lag(expired) over w, 0)             as expired,
        network_error - coalesce(lag(network_error) over w, 0) as network_error
    from sms.fact_campaign_counters
    window w as (partition by campaign_id order by observed_at)
) as g
cross join lateral (
    values
        ('delivered', null, g.delivered::bigint),
        ('failed', 'error', g.error::bigint),
        ('failed', 'expired', g.expired::bigint),
        ('failed', 'network_error', g.network_error::bigint)
) as o (outcome, reason, messages)
group by 2, 3, 4, 6
having sum(o.messages) <> 0;
