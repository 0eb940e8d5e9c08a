-- Rewrite the status changes of these campaigns (:campaigns) whose phone is held as
-- received: the phone becomes its pseudonym (:phones[i] -> :pseudonyms[i]), so that they
-- still join their recipient. Returns how many rows.
update sms.recipient_status_transition as t
set phone = m.pseudonym
from unnest(cast(:phones as text[]), cast(:pseudonyms as text[])) as m (phone, pseudonym)
where t.campaign_id = any(cast(:campaigns as text[]))
  and t.phone = m.phone collate "C";
