-- The next :batch Nixflex campaigns holding recipients, in "C" order, after :after (from the
-- first when NULL). One index probe per campaign on the primary key of
-- sms.recipient_delivery (a loose index scan), however many recipients each holds.
with recursive campaign as (
    (
        select r.campaign_id
        from sms.recipient_delivery as r
        where cast(:after as text) is null or r.campaign_id > cast(:after as text) collate "C"
        order by r.campaign_id
        limit 1
    )
    union all
    select (
        select r.campaign_id
        from sms.recipient_delivery as r
        where r.campaign_id > c.campaign_id
        order by r.campaign_id
        limit 1
    )
    from campaign as c
    where c.campaign_id is not null
)
select campaign_id
from campaign
where campaign_id is not null
limit :batch;
