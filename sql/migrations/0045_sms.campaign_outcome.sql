-- sms.campaign_outcome — grain: one row per (provider, campaign_id, outcome, status, reason,
-- message_day, sent, country): how many messages of a campaign ended in each outcome, kept
-- by the loader so that the views the dashboards read count campaigns, not recipients.
--
--   * Nixflex: the campaign's recipients its latest answer lists (sms.recipient_delivery,
--     missing_since NULL) grouped by delivery_bucket (outcome), status, error_message (reason,
--     failed recipients only, as Twilio gave it, NULL otherwise), the UTC day of sent_at, else
--     of the last status change (message_day, the day sms.failures_by_category gives a
--     message), whether sent_at is known (sent) and country.
--   * SMSFactor: the campaign's latest counters snapshot (sms.fact_campaign_counters), six
--     rows even when zero: delivered; failed with reason error, expired or network_error;
--     npai; pending (total - delivered - failed - npai). status, message_day, sent and
--     country are NULL.
--
-- The campaign's day, account and sender are not stored: the views join sms.dim_campaign,
-- so a change there needs no refresh. The loader rewrites a campaign's rows
-- (sql/load/clear_campaign_aggregates.sql, then insert_campaign_outcome.sql) in the
-- transaction that writes its facts; the check aggregates_match_facts recounts them.
--
-- This migration fills it for a warehouse that already holds facts: one INSERT … SELECT that
-- reads every listed recipient once (docs/deployment.md, "Upgrades").
create table sms.campaign_outcome (
    provider    text not null check (provider in ('nixflex', 'smsfactor')),
    campaign_id text collate "C" not null,
    outcome     text not null
                check (outcome in ('delivered', 'failed', 'pending', 'unknown', 'npai')),
    status      text,
    reason      text,
    message_day date,
    sent        boolean,
    country     text,
    messages    bigint not null
);

create index campaign_outcome_campaign_idx on sms.campaign_outcome (provider, campaign_id);

comment on table sms.campaign_outcome is
    'Messages per campaign by outcome (and, for Nixflex, status, failure reason, day and country), kept by the loader in the transaction that writes the campaign''s facts. Read through sms.campaign_delivery, sms.failure_reasons, sms.failures_by_category and sms.daily_delivery_by_country.';
comment on column sms.campaign_outcome.provider is 'nixflex or smsfactor.';
comment on column sms.campaign_outcome.campaign_id is 'The vendor''s campaign id (sms.dim_campaign).';
comment on column sms.campaign_outcome.outcome is 'delivered, failed, pending or unknown (Nixflex delivery_bucket; SMSFactor by its counters), or npai (SMSFactor numbers filtered out before sending).';
comment on column sms.campaign_outcome.status is 'Nixflex: the recipients'' status; NULL for SMSFactor.';
comment on column sms.campaign_outcome.reason is 'Failed messages only: Nixflex the error message as Twilio gave it (NULL or empty when it gave none); SMSFactor the counter (error, expired, network_error). NULL for other outcomes.';
comment on column sms.campaign_outcome.message_day is 'Nixflex: the UTC day of the recipients'' sent_at, else of their last status change (first sight if none); NULL for SMSFactor.';
comment on column sms.campaign_outcome.sent is 'Nixflex: whether the recipients'' sent_at is known (message_day is then the day they left); NULL for SMSFactor.';
comment on column sms.campaign_outcome.country is 'Nixflex: the recipients'' country (ISO 3166-1 alpha-2), NULL when unknown; NULL for SMSFactor.';
comment on column sms.campaign_outcome.messages is 'Messages (Nixflex recipients; SMSFactor counter value, pending may be negative when the vendor''s counters exceed its total).';

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.campaign_outcome to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.campaign_outcome to sms_loader;
    end if;
end
$$;

insert into sms.campaign_outcome (
    provider, campaign_id, outcome, status, reason, message_day, sent, country, messages
)
select
    'nixflex',
    campaign_id,
    delivery_bucket,
    status,
    case when delivery_bucket = 'failed' then error_message end,
    (coalesce(sent_at, status_changed_at, first_seen_at) at time zone 'UTC')::date,
    sent_at is not null,
    country,
    count(*)
from sms.recipient_delivery
where missing_since is null
group by 1, 2, 3, 4, 5, 6, 7, 8
union all
select 'smsfactor', l.campaign_id, o.outcome, null, o.reason, null, null, null, o.messages
from (
    select distinct on (campaign_id) *
    from sms.fact_campaign_counters
    order by campaign_id, observed_at desc
) as l
cross join lateral (
    values
        ('delivered', null, l.delivered::bigint),
        ('failed', 'error', l.error::bigint),
        ('failed', 'expired', l.expired::bigint),
        ('failed', 'network_error', l.network_error::bigint),
        ('npai', null, l.npai::bigint),
        ('pending', null,
         l.total::bigint - l.delivered - l.error - l.expired - l.network_error - l.npai)
) as o (outcome, reason, messages);
