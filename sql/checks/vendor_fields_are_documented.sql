-- Rule: vendor answers have only the fields the vendors document (schema drift shows here
-- first: Nixflex's API is young and has changed shape before). An answer with other fields
-- is loaded without them and noted in raw.quarantine (kind unknown_field); this lists the
-- notes of the last 24 hours, per campaign, with the fields. No rows = pass. Severity:
-- WARN (nothing was lost; a field that changes meaning needs a parser change).
select
    provider,
    campaign_id,
    count(*)        as answers,
    min(reason)     as example_reason
from raw.quarantine
where kind = 'unknown_field'
  and quarantined_at > now() - interval '24 hours'
group by provider, campaign_id
order by provider, campaign_id;
