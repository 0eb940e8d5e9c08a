-- Record an open problem: a new incident, or the open one with the same key brought up to
-- date (its details; no row comes back when they did not change). incident_is_new says
-- which.
insert into meta.alert_incident (signal, subject, segment, opened_at, detected_at, details)
values (:signal, :subject, :segment, :opened_at, :now, cast(:details as jsonb))
on conflict (signal, subject, segment) where resolved_at is null
do update set details = excluded.details
    where meta.alert_incident.details is distinct from excluded.details
returning incident_id, (xmax = 0) as incident_is_new;
