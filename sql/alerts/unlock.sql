-- Release the evaluation's advisory lock.
select pg_advisory_unlock(:lock_key);
