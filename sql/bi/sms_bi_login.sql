-- The login Superset reads the warehouse with (`make bi`, pipelines/bi_login.py): granted
-- sms_analyst (reads sms, nothing else: not raw, not meta), read-only by default, and in UTC so
-- that "today" and date filters are UTC days. Never the owner, never a superuser. Made when
-- missing, brought back to this state on every start; its password is set by
-- sms_bi_password.sql. Run as the warehouse's owner (who may create roles).
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'sms_bi') then
        create role sms_bi login;
    end if;
    alter role sms_bi login;
    grant sms_analyst to sms_bi;
    alter role sms_bi set default_transaction_read_only = on;
    alter role sms_bi set timezone = 'UTC';
end
$$;
