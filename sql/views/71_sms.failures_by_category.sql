-- sms.failures_by_category — grain: one row per (day, provider, account, sender, category):
-- failed messages by the category sms.failure_category_map gives their reason; a reason no
-- row maps counts as other (the WARN check failure_reasons_are_categorised lists them).
-- Nixflex: recipients of sms.fact_recipient_delivery whose delivery_bucket is failed (failed,
-- undelivered, sent), by their error_message (a Twilio code it carries first, then the
-- message's text) or, for sent, their status; day = the UTC day of the recipient's sent_at,
-- or of its status_changed_at when sent_at is NULL. SMSFactor: the failed counters (error,
-- expired, network_error) of each campaign's latest sms.fact_campaign_counters snapshot;
-- day = the UTC day of the campaign's sms.dim_campaign.sent_at (else its scheduled or
-- creation time, as in sms.daily_delivery). Both are read from sms.campaign_outcome (failed
-- rows), which the loader keeps per campaign from those facts: the patterns are matched
-- once per distinct reason of a campaign and day, not per message. Reads no session
-- setting.
--
-- This file is the current definition of the view, with its comments and grants: to change
-- the view, edit this file (never a migration; migrations change tables only). `migrate`
-- applies every file of sql/views/ after the migrations, in file-name order (a view after
-- the views it reads), again whenever a file is new or changed.
create or replace view sms.failures_by_category as
with nixflex_failed as (
    select
        campaign_id,
        message_day                 as day,
        status,
        reason                      as error_message,
        sum(messages)::bigint       as messages
    from sms.campaign_outcome
    where provider = 'nixflex' and outcome = 'failed'
    group by 1, 2, 3, 4
),

nixflex as (
    select
        f.day,
        'nixflex'::text                        as provider,
        d.account,
        d.sender,
        coalesce(m.category, 'other')          as category,
        sum(f.messages)::bigint                as messages,
        count(distinct f.campaign_id)::bigint  as campaigns
    from nixflex_failed as f
    join sms.dim_campaign as d on d.provider = 'nixflex' and d.campaign_id = f.campaign_id
    left join lateral (
        select m.category
        from sms.failure_category_map as m
        where m.provider = 'nixflex'
          and (
              (m.reason_kind = 'twilio_code'
               and f.error_message ~ ('(^|[^0-9])' || m.pattern || '([^0-9]|$)'))
              or (m.reason_kind = 'error_message' and f.error_message ilike m.pattern)
              or (m.reason_kind = 'status' and f.status = m.pattern)
          )
        order by
            case m.reason_kind when 'twilio_code' then 1 when 'error_message' then 2 else 3 end,
            length(m.pattern) desc,
            m.category
        limit 1
    ) as m on true
    group by 1, 2, 3, 4, 5
),

smsfactor as (
    select
        (coalesce(d.sent_at, d.scheduled_at, d.created_at) at time zone 'UTC')::date as day,
        'smsfactor'::text                                                          as provider,
        d.account,
        d.sender,
        coalesce(m.category, 'other')                                              as category,
        sum(o.messages)::bigint                                                    as messages,
        count(distinct o.campaign_id)::bigint                                      as campaigns
    from sms.campaign_outcome as o
    join sms.dim_campaign as d on d.provider = 'smsfactor' and d.campaign_id = o.campaign_id
    left join sms.failure_category_map as m
        on m.provider = 'smsfactor' and m.reason_kind = 'counter' and m.pattern = o.reason
    where o.provider = 'smsfactor' and o.outcome = 'failed' and o.messages > 0
    group by 1, 2, 3, 4, 5
)

select * from nixflex
union all
select * from smsfactor;

comment on view sms.failures_by_category is
    'One row per (day, provider, account, sender, category): failed messages by failure category (sms.failure_category_map; unmapped reasons are other). Nixflex: failed recipients on the UTC day of their sent_at (else status_changed_at); SMSFactor: error, expired and network_error of each campaign''s latest counters, on the UTC day of the campaign''s sent_at (else scheduled or creation time).';
comment on column sms.failures_by_category.day is 'The UTC day: Nixflex the recipient''s sent_at (status_changed_at when sent_at is NULL); SMSFactor the campaign''s sent_at (else scheduled_at, else created_at).';
comment on column sms.failures_by_category.provider is 'nixflex or smsfactor.';
comment on column sms.failures_by_category.account is 'The vendor account (sms.dim_campaign).';
comment on column sms.failures_by_category.sender is 'The sender (number or name).';
comment on column sms.failures_by_category.category is 'invalid_number, blocked_or_filtered, carrier_or_network, expired, no_confirmation, opted_out, or other (reason mapped by no row of sms.failure_category_map).';
comment on column sms.failures_by_category.messages is 'Failed messages in the category.';
comment on column sms.failures_by_category.campaigns is 'Campaigns with at least one of them in the row.';

-- Analysts read it (sms_analyst); the pipeline's role (sms_loader) has what it has on every
-- sms relation. Both roles come from migration 0024, where the migrating user may create them.
do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        grant select on sms.failures_by_category to sms_analyst;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update, delete on sms.failures_by_category to sms_loader;
    end if;
end
$$;
