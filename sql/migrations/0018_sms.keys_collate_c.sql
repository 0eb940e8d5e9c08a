-- Campaign ids and phone numbers are compared byte by byte (collation "C") everywhere they
-- are keys. They are opaque ASCII codes ('smsc_4a08df5e', '+447762873502'), so no analyst
-- sees a different order or a different match; what changes is the cost of every key
-- comparison: a locale collation (the database default, e.g. C.UTF-8 under libc) compares
-- through strcoll and cannot use abbreviated keys, which made the primary-key and
-- (campaign_id, delivery_bucket) index inserts the largest part of loading a campaign
-- (bench-load: 6.0 → 3.5 CPU-seconds in Postgres per million recipients).
--
-- All campaign_id columns change together: equality between two different non-default
-- collations is an error, and an index is only used for a comparison in its own collation.
-- A view cannot outlive a change of its columns' type, so the two views over these columns
-- are dropped and recreated from their own stored definitions (unchanged). Changing only
-- the collation of a text column does not rewrite the table; its indexes are rebuilt.
do $$
declare
    status_change_sql text := pg_get_viewdef('sms.fact_recipient_status_change'::regclass);
    delivery_sql text := pg_get_viewdef('sms.campaign_delivery'::regclass);
begin
    drop view sms.fact_recipient_status_change;
    drop view sms.campaign_delivery;

    alter table raw.vendor_response alter column campaign_id type text collate "C";
    alter table raw.quarantine alter column campaign_id type text collate "C";
    alter table sms.dim_campaign alter column campaign_id type text collate "C";
    alter table sms.fact_recipient_delivery
        alter column campaign_id type text collate "C",
        alter column phone type text collate "C";
    alter table sms.recipient_status_transition
        alter column campaign_id type text collate "C",
        alter column phone type text collate "C";
    alter table sms.fact_campaign_counters alter column campaign_id type text collate "C";
    alter table sms.campaign_poll_state alter column campaign_id type text collate "C";

    execute 'create view sms.fact_recipient_status_change as ' || status_change_sql;
    execute 'create view sms.campaign_delivery as ' || delivery_sql;
end
$$;
