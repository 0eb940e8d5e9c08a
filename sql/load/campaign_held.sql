-- One row when the warehouse holds any recipient of Nixflex campaign :c.
select 1 from sms.recipient_delivery where campaign_id = :c limit 1;
