-- The phone numbers of these Nixflex campaigns (:campaigns) held as received, in
-- sms.recipient_delivery or sms.recipient_status_transition: every phone that is not a
-- pseudonym (:pseudonym, the form pipelines.privacy.PSEUDONYM writes under any salt).
select phone
from sms.recipient_delivery
where campaign_id = any(cast(:campaigns as text[]))
  and phone !~ cast(:pseudonym as text)
union
select phone
from sms.recipient_status_transition
where campaign_id = any(cast(:campaigns as text[]))
  and phone !~ cast(:pseudonym as text);
