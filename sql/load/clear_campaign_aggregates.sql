-- Delete the rows of one campaign (:provider, :campaign_id) from the aggregates the loader
-- keeps (sms.campaign_outcome, sms.campaign_delivery_time, sms.campaign_outcome_hour),
-- before it inserts their recount from the campaign's facts in the same transaction
-- (insert_campaign_outcome.sql, insert_campaign_delivery_time.sql,
-- insert_campaign_outcome_hour.sql). A statement of its own: an INSERT in the same
-- statement would run against the old rows' keys.
with outcome as (
    delete from sms.campaign_outcome
    where provider = cast(:provider as text) and campaign_id = cast(:campaign_id as text)
),

outcome_hour as (
    delete from sms.campaign_outcome_hour
    where provider = cast(:provider as text) and campaign_id = cast(:campaign_id as text)
)

delete from sms.campaign_delivery_time
where provider = cast(:provider as text) and campaign_id = cast(:campaign_id as text);
