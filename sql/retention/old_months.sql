-- The months of raw.vendor_response that end at or before :cutoff (the first instant of the
-- oldest month to keep), oldest first, with how many answers each holds and how many of
-- those are not loaded yet (a month with any is kept: its answers still have to be read).
select
    c.relname as partition,
    to_date(right(c.relname, 7), 'YYYY_MM') as month,
    (select count(*) from raw.vendor_response as r
     where r.tableoid = c.oid) as answers,
    (select count(*) from raw.vendor_response as r
     where r.tableoid = c.oid and r.load_status = 'pending') as pending
from pg_inherits as i
join pg_class as c on c.oid = i.inhrelid
where i.inhparent = 'raw.vendor_response'::regclass
  and c.relname ~ '^vendor_response_[0-9]{4}_[0-9]{2}$'
  and to_date(right(c.relname, 7), 'YYYY_MM') + interval '1 month' <= :cutoff
order by month;
