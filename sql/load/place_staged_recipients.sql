-- place_staged_recipients — the staged recipients :phones[i] (as the facts will hold them)
-- get the country :countries[i] (pipelines.warehouse.country, from the number as received;
-- NULL when it names none) before the merge inserts them.
update stage_recipient as s
set country = m.country
from unnest(cast(:phones as text[]), cast(:countries as text[])) as m (phone, country)
where s.phone = m.phone;
