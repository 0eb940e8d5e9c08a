-- The recipients of these campaigns (:campaigns) that still hold variables or a rendered
-- message lose them (their phone is already a pseudonym). Returns how many rows.
update sms.recipient_delivery
set variables = null,
    rendered_message = null
where campaign_id = any(cast(:campaigns as text[]))
  and (variables is not null or rendered_message is not null);
