-- The problem cleared. An incident never alerted needs no resolved message: it is settled
-- at once.
update meta.alert_incident
set resolved_at = :now,
    resolution = :resolution,
    resolution_sent_at = case when last_alerted_at is null then :now end
where incident_id = :incident_id and resolved_at is null;
