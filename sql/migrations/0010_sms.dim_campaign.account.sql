-- sms.dim_campaign.account — the vendor account the campaign belongs to (see the README's
-- "Several accounts"). Campaigns loaded before accounts existed belong to 'default'.
alter table sms.dim_campaign
    add column account text not null default 'default';
