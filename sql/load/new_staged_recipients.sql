-- new_staged_recipients — the staged recipients (stage_recipient: one answer of the Nixflex
-- campaign :campaign_id) that sms.recipient_delivery does not hold yet, by their phone as
-- the facts will hold it. Only these get a country (pipelines.warehouse.country) before the
-- merge: a recipient already held keeps the one it has. The campaign is named so that its
-- held phones are read by the key's index (a hash anti-join, ~6 ms per 10,000 recipients).
select s.phone
from stage_recipient as s
where not exists (
    select
    from sms.recipient_delivery as f
    where f.campaign_id = cast(:campaign_id as text)
      and f.phone = s.phone
);
