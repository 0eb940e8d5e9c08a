-- What the staged recipients say: whether all are plain with no phone twice, and what the
-- campaign's dim row and settlement need.
select
    coalesce(bool_and(plain), true) and count(distinct phone) = count(*) as plain,
    count(*)                                                          as recipients,
    min(sent_at)                                                      as first_sent,
    max(sent_at)                                                      as last_sent,
    coalesce(bool_and(delivery_bucket in ('delivered', 'failed')), true) as all_done
from stage_recipient;
