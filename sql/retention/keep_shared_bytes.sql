-- Before a month of answers is deleted: an answer kept after it that holds no bytes of its
-- own (duplicate_of, "same bytes as that earlier answer") must not lose them. For each
-- answer in the month from :lower to :upper (dates: the first days of that month and the
-- next, read as UTC midnights whatever the session's TimeZone, as the month partitions
-- are) that later answers point at, the earliest of those gets the bytes, and the others
-- point at it instead. Returns how many answers took bytes.
with bounds as (
    select
        cast(:lower as date)::timestamp at time zone 'UTC' as month_start,
        cast(:upper as date)::timestamp at time zone 'UTC' as next_month
),

heir_of as (
    select r.duplicate_of as old_id, min(r.response_id) as heir
    from raw.vendor_response as r, bounds as m
    where r.fetched_at >= m.next_month
      and r.duplicate_of in (
          select o.response_id from raw.vendor_response as o
          where o.fetched_at >= m.month_start and o.fetched_at < m.next_month
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
    cross join bounds as m
    join raw.vendor_response as o
        on o.response_id = h.old_id and o.fetched_at >= m.month_start and o.fetched_at < m.next_month
    where r.response_id = h.heir
      and r.fetched_at >= m.next_month
    returning r.response_id
),

others as (
    update raw.vendor_response as r
    set duplicate_of = h.heir
    from heir_of as h, bounds as m
    where r.duplicate_of = h.old_id
      and r.response_id <> h.heir
      and r.fetched_at >= m.next_month
    returning 1
)

select count(*) as heirs from heirs;
