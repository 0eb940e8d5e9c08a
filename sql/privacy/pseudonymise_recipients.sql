-- Rewrite the recipients of these campaigns (:campaigns) whose phone is held as received:
-- the phone becomes its pseudonym (:phones[i] -> :pseudonyms[i], computed by
-- pipelines.privacy), variables and rendered_message go. Returns how many rows.
update sms.recipient_delivery as r
set phone = m.pseudonym,
    variables = null,
    rendered_message = null
from unnest(cast(:phones as text[]), cast(:pseudonyms as text[])) as m (phone, pseudonym)
where r.campaign_id = any(cast(:campaigns as text[]))
  and r.phone = m.phone collate "C";
