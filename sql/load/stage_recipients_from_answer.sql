-- Flatten a Nixflex answer's recipients into stage_recipient in Postgres, in one pass over
-- the landed jsonb, marking each row `plain` when it is exactly what the Python parser
-- would load as is: an object whose phone and status are non-empty strings, other text
-- fields strings or null, variables an object or null, sent_at empty, null or ISO-8601
-- with Z or an offset. The caller keeps the rows only if every row is plain and no phone
-- repeats; otherwise it rolls them back and lets the Python parser, which can quarantine
-- one item, take the answer. :buckets maps documented statuses to buckets (rules.py).
insert into stage_recipient (
    campaign_id, phone, status, delivery_bucket, twilio_sid, error_message,
    rendered_message, variables, sent_at, observed_at, plain
)
select
    :campaign_id,
    coalesce(item ->> 'phone', ''),
    coalesce(item ->> 'status', ''),
    coalesce(cast(:buckets as jsonb) ->> (item ->> 'status'), 'unknown'),
    nullif(item ->> 'twilio_sid', ''),
    nullif(item ->> 'error_message', ''),
    nullif(item ->> 'rendered_message', ''),
    case when jsonb_typeof(item -> 'variables') = 'object' then item -> 'variables' end,
    case when plain then cast(nullif(item ->> 'sent_at', '') as timestamptz) end,
    :observed_at,
    plain
from (
    select
        e.value as item,
        coalesce(
            jsonb_typeof(e.value) = 'object'
            and jsonb_typeof(e.value -> 'phone') = 'string' and e.value ->> 'phone' <> ''
            and jsonb_typeof(e.value -> 'status') = 'string' and e.value ->> 'status' <> ''
            and coalesce(jsonb_typeof(e.value -> 'twilio_sid'), 'null') in ('string', 'null')
            and coalesce(jsonb_typeof(e.value -> 'error_message'), 'null') in ('string', 'null')
            and coalesce(jsonb_typeof(e.value -> 'rendered_message'), 'null')
                in ('string', 'null')
            and coalesce(jsonb_typeof(e.value -> 'variables'), 'null') in ('object', 'null')
            and (
                coalesce(jsonb_typeof(e.value -> 'sent_at'), 'null') = 'null'
                or (
                    jsonb_typeof(e.value -> 'sent_at') = 'string'
                    and e.value ->> 'sent_at'
                        ~ '^(|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d))$'
                )
            ),
            false
        ) as plain
    from raw.vendor_response as a
    left join raw.vendor_response as o on o.response_id = a.duplicate_of
    cross join lateral jsonb_array_elements(coalesce(o.payload, a.payload) -> 'recipients') as e
    where a.response_id = :id
) as items;
