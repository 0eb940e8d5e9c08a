-- The resolved message was accepted by at least one destination.
update meta.alert_incident
set resolution_sent_at = :now
where incident_id = :incident_id;
