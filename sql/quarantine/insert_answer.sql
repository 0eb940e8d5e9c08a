-- Set a whole answer aside in raw.quarantine with its kind and reason.
insert into raw.quarantine (response_id, provider, campaign_id, kind, reason)
select response_id, provider, campaign_id, :kind, :reason
from raw.vendor_response
where response_id = :id;
