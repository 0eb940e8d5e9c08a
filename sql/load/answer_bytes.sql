-- The stored bytes of one landed answer and their body_encoding, following duplicate_of
-- when it was kept by reference (payload: the jsonb of an answer landed before migration
-- 0016, else NULL). Run on the driver's cursor (psycopg placeholders), with binary results.
select
    coalesce(o.payload, a.payload) as payload,
    coalesce(o.body, a.body) as body,
    case when o.response_id is null then a.body_encoding else o.body_encoding end
        as body_encoding
from raw.vendor_response as a
left join raw.vendor_response as o on o.response_id = a.duplicate_of
where a.response_id = %(id)s;
