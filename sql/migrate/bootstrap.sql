-- meta.schema_migration — grain: one row per file of sql/migrations/ applied: its version,
-- name and the checksum of its text as applied (an applied file that changed is refused).
-- Made here, before the first migration runs, so that migrations are recorded from the first.
create schema if not exists meta;
create table if not exists meta.schema_migration (
    version    text primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now()
);
