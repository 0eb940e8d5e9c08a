-- The rewrite under way has finished every campaign up to :campaign_id ("C" order).
update meta.sms_privacy
set rewritten_through = :campaign_id;
