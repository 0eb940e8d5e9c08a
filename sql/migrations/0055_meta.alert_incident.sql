-- meta.alert_incident — grain: one row per incident: a problem (a failed check, a failed
-- sync run, stale data) on one subject and segment, from the evaluation that found it
-- open until the one that found it cleared (pipelines/alerts/). At most one incident per
-- (signal, subject, segment) is open at a time. What was alerted and when lives here, so a
-- restarted sensor neither repeats nor loses an alert. In meta: the pipeline (sms_loader)
-- reads and writes it, analysts do not.
create table meta.alert_incident (
    incident_id         bigint generated always as identity primary key,
    signal              text not null,
    subject             text not null,
    segment             text not null default '',
    opened_at           timestamptz not null,
    detected_at         timestamptz not null default now(),
    details             jsonb not null,
    alerts_sent         integer not null default 0,
    last_alerted_at     timestamptz,
    resolved_at         timestamptz,
    resolution          text,
    resolution_sent_at  timestamptz
);

create unique index alert_incident_one_open
    on meta.alert_incident (signal, subject, segment)
    where resolved_at is null;

create index alert_incident_unsettled
    on meta.alert_incident (incident_id)
    where resolved_at is null or resolution_sent_at is null;

comment on table meta.alert_incident is
    'Alert incidents: one per problem (signal, subject, segment) from when it was found open until it cleared, with what was alerted and when.';
comment on column meta.alert_incident.incident_id is 'Identity of the incident, named in its messages.';
comment on column meta.alert_incident.signal is 'What kind of problem: check_failed (an ERROR check), check_warned (a WARN check listed in ALERT_WARN_CHECKS), stale (data_is_fresh), run_failed (a sync run).';
comment on column meta.alert_incident.subject is 'What failed: an asset check as asset/path:check_name, or a job name.';
comment on column meta.alert_incident.segment is 'The part of the subject at fault when the check names segments (e.g. a sender); empty for the subject as a whole.';
comment on column meta.alert_incident.opened_at is 'When the problem started: the first failing evaluation or run of the streak.';
comment on column meta.alert_incident.detected_at is 'When an alert evaluation first found the problem.';
comment on column meta.alert_incident.details is 'The latest figures of the problem (description, campaigns, counts, run id, links), as its messages show them.';
comment on column meta.alert_incident.alerts_sent is 'How many messages (opened, reminders) at least one destination accepted.';
comment on column meta.alert_incident.last_alerted_at is 'When the last opened or reminder message was accepted; NULL: not alerted yet (due at the next evaluation).';
comment on column meta.alert_incident.resolved_at is 'When an evaluation found the problem cleared; NULL while it lasts.';
comment on column meta.alert_incident.resolution is 'How it cleared, e.g. the check passed (with the run), or the subject is no longer watched.';
comment on column meta.alert_incident.resolution_sent_at is 'When the resolved message was accepted (or, for an incident never alerted, when it was settled without one).';

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'sms_loader') then
        grant select, insert, update on meta.alert_incident to sms_loader;
    end if;
    if exists (select 1 from pg_roles where rolname = 'sms_analyst') then
        revoke all on meta.alert_incident from sms_analyst;
    end if;
end
$$;
