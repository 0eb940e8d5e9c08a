-- The incidents an evaluation still has business with: open ones, and resolved ones whose
-- resolved message has not gone out yet. Oldest first.
select incident_id, signal, subject, segment, opened_at, detected_at, details, alerts_sent,
       last_alerted_at, resolved_at, resolution, resolution_sent_at
from meta.alert_incident
where resolved_at is null or resolution_sent_at is null
order by incident_id;
