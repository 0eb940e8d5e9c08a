-- A landed Nixflex campaign answer without its recipients (the campaign's own fields), and
-- whether it has a recipients list at all; follows duplicate_of.
select
    case when jsonb_typeof(coalesce(o.payload, a.payload)) = 'object'
        then coalesce(o.payload, a.payload) - 'recipients'
    end as header,
    coalesce(jsonb_typeof(coalesce(o.payload, a.payload) -> 'recipients') = 'array', false)
        as has_list
from raw.vendor_response as a
left join raw.vendor_response as o on o.response_id = a.duplicate_of
where a.response_id = :id;
