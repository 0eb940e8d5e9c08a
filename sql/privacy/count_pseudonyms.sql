-- How many Nixflex recipients hold a pseudonym (:pseudonym, the form
-- pipelines.privacy.PSEUDONYM), made under whichever salt.
select count(*)
from sms.recipient_delivery
where phone ~ cast(:pseudonym as text);
