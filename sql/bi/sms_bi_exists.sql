-- Whether the login Superset uses exists (a missing one gets a new password on both sides).
select exists (select 1 from pg_roles where rolname = 'sms_bi');
