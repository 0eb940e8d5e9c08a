-- A relation's columns in order, with their COMMENT ON text when there is one.
select a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
       col_description(a.attrelid, a.attnum) as description
from pg_attribute as a
where a.attrelid = to_regclass(:qualified) and a.attnum > 0 and not a.attisdropped
order by a.attnum;
