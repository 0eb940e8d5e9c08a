-- Rule: nothing was quarantined in the last 24 hours (notes of undocumented fields, whose
-- answers loaded, are vendor_fields_are_documented's). Lists what was, per campaign and kind,
-- with an example reason (full detail in raw.quarantine). No rows = pass. Severity: WARN
-- (the rest of the data loaded; an operator should look).
select
    provider,
    campaign_id,
    kind,
    count(*)        as items,
    min(reason)     as example_reason
from raw.quarantine
where quarantined_at > now() - interval '24 hours'
  and kind <> 'unknown_field'  -- notes of loaded answers: vendor_fields_are_documented
group by provider, campaign_id, kind
order by provider, campaign_id, kind;
