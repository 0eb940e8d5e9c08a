-- Flatten a plain Nixflex answer (see nixflex_answer_is_plain.sql) into stage_recipient, in
-- Postgres: the same rows the Python parser would COPY. :buckets maps each documented status
-- to its delivery bucket (pipelines/rules.py); any other status is 'unknown'.
insert into stage_recipient (
    campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
    rendered_message, variables, sent_at, observed_at
)
select
    :campaign_id,
    r.phone,
    r.status,
    coalesce(cast(:buckets as jsonb) ->> r.status, 'unknown'),
    nullif(r.twilio_sid, ''),
    nullif(r.error_message, ''),
    nullif(r.rendered_message, ''),
    case when jsonb_typeof(r.variables) = 'object' then r.variables end,
    cast(nullif(r.sent_at, '') as timestamptz),
    :observed_at
from raw.vendor_response as a
left join raw.vendor_response as o on o.response_id = a.duplicate_of
cross join lateral jsonb_to_recordset(coalesce(o.payload, a.payload) -> 'recipients') as r (
    phone text, status text, twilio_sid text, error_message text, rendered_message text,
    variables jsonb, sent_at text
)
where a.response_id = :id;
