-- The loaded answers a campaign's facts must equal: those fetched when it was last read
-- (sms.dim_campaign.last_polled_at, which an older answer never moves back), newest first.
-- A Nixflex campaign is read from its own campaign.get answer; an SMSFactor campaign from
-- its campaign.get answer or a history page of its account, whichever read it last.
select v.response_id
from sms.dim_campaign as d
join raw.vendor_response as v
    on v.provider = d.provider
   and v.fetched_at = d.last_polled_at
   and v.account is not distinct from d.account
where d.provider = :provider
  and d.campaign_id = :campaign_id
  and v.load_status = 'loaded'
  and v.http_status between 200 and 299
  and (v.campaign_id = d.campaign_id
       or (d.provider = 'smsfactor' and v.campaign_id is null))
order by v.response_id desc;
