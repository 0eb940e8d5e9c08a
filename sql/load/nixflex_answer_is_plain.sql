-- Whether a landed Nixflex campaign answer can be flattened by Postgres itself: every
-- recipient is an object whose phone and status are non-empty strings, whose other text
-- fields are strings or null, variables an object or null, sent_at empty, null or ISO-8601
-- with Z or an offset, and no phone is listed twice. Any other answer goes through the
-- Python parser, which quarantines a bad item on its own. Also returns the answer without
-- its recipients (the campaign's own fields).
with answer as (
    select coalesce(o.payload, a.payload) as payload
    from raw.vendor_response as a
    left join raw.vendor_response as o on o.response_id = a.duplicate_of
    where a.response_id = :id
),

items as (
    select e.value as e
    from answer, jsonb_array_elements(
        case
            when jsonb_typeof(answer.payload -> 'recipients') = 'array'
                then answer.payload -> 'recipients'
            else '[]'::jsonb
        end
    ) as e
)

select
    (select payload - 'recipients' from answer where jsonb_typeof(payload) = 'object')
        as header,
    coalesce(
        (select jsonb_typeof(payload -> 'recipients') = 'array' from answer), false
    ) as has_list,
    coalesce(bool_and(coalesce(
        jsonb_typeof(e) = 'object'
        and jsonb_typeof(e -> 'phone') = 'string' and e ->> 'phone' <> ''
        and jsonb_typeof(e -> 'status') = 'string' and e ->> 'status' <> ''
        and coalesce(jsonb_typeof(e -> 'twilio_sid'), 'null') in ('string', 'null')
        and coalesce(jsonb_typeof(e -> 'error_message'), 'null') in ('string', 'null')
        and coalesce(jsonb_typeof(e -> 'rendered_message'), 'null') in ('string', 'null')
        and coalesce(jsonb_typeof(e -> 'variables'), 'null') in ('object', 'null')
        and (
            coalesce(jsonb_typeof(e -> 'sent_at'), 'null') = 'null'
            or (
                jsonb_typeof(e -> 'sent_at') = 'string'
                and e ->> 'sent_at' ~ '^(|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d))$'
            )
        ),
        false
    )), true)
    and count(distinct e ->> 'phone') = count(*) as plain
from items;
