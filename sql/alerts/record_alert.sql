-- An opened or reminder message was accepted by at least one destination.
update meta.alert_incident
set alerts_sent = alerts_sent + 1, last_alerted_at = :now
where incident_id = :incident_id;
