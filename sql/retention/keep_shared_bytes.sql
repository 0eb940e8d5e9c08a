-- Before a month of answers is deleted: an answer kept after it that holds no bytes of its
-- own (duplicate_of, "same bytes as that earlier answer") must not lose them. For each
-- answer in the month [:lower, :upper) that later answers point at, the earliest of those
-- gets the bytes, and the others point at it instead. Returns how many answers took bytes.
with heir_of as (
    select r.duplicate_of as old_id, min(r.response_id) as heir
    from raw.vendor_response as r
    where r.fetched_at >= :upper
      and r.duplicate_of in (
          select response_id from raw.vendor_response
          where fetched_at >= :lower and fetched_at < :upper
      )
    group by r.duplicate_of
),

heirs as (
    update raw.vendor_response as r
    set payload = o.payload,
        body = o.body,
        body_encoding = o.body_encoding,
        duplicate_of = null
    from heir_of as h
    join raw.vendor_response as o
        on o.response_id = h.old_id and o.fetched_at >= :lower and o.fetched_at < :upper
    where r.response_id = h.heir
      and r.fetched_at >= :upper
    returning r.response_id
),

others as (
    update raw.vendor_response as r
    set duplicate_of = h.heir
    from heir_of as h
    where r.duplicate_of = h.old_id
      and r.response_id <> h.heir
      and r.fetched_at >= :upper
    returning 1
)

select count(*) as heirs from heirs;
