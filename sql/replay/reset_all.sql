-- Replay, first step (scope "all"): forget everything the loader derived from the raw
-- landing (facts, dim rows and the aggregates the loader keeps beside them) of one provider
-- (:provider), or of both when NULL, and mark every answer pending again, so that the
-- loader rebuilds it from raw alone. One statement, so one transaction: it happens whole or
-- not at all. Poll state (sms.campaign_poll_state, sms.account_poll_state) is the poller's
-- and is kept; the loader's updates to it are guarded by time, so loading old answers again
-- cannot move it back. Returns how many answers were marked pending.
with quarantine as (
    delete from raw.quarantine
    where cast(:provider as text) is null or provider = :provider
),

transitions as (
    delete from sms.recipient_status_transition
    where coalesce(cast(:provider as text), 'nixflex') = 'nixflex'
),

recipients as (
    delete from sms.recipient_delivery
    where coalesce(cast(:provider as text), 'nixflex') = 'nixflex'
),

counters as (
    delete from sms.fact_campaign_counters
    where cast(:provider as text) is null or provider = :provider
),

outcomes as (
    delete from sms.campaign_outcome
    where cast(:provider as text) is null or provider = :provider
),

delivery_times as (
    delete from sms.campaign_delivery_time
    where cast(:provider as text) is null or provider = :provider
),

outcome_hours as (
    delete from sms.campaign_outcome_hour
    where cast(:provider as text) is null or provider = :provider
),

campaigns as (
    delete from sms.dim_campaign
    where cast(:provider as text) is null or provider = :provider
),

answers as (
    update raw.vendor_response
    set load_status = 'pending', loaded_at = null, load_note = null
    where cast(:provider as text) is null or provider = :provider
    returning 1
)

select count(*) as marked from answers;
