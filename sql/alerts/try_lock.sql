-- One alert evaluation at a time (the sensor and `make alerts`): a session advisory lock,
-- false when another evaluation holds it.
select pg_try_advisory_lock(:lock_key);
