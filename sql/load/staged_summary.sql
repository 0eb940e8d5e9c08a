-- What the staged recipients say, for the campaign's dim row and its settlement.
select
    count(*)                                                             as recipients,
    min(sent_at)                                                         as first_sent,
    max(sent_at)                                                         as last_sent,
    coalesce(bool_and(delivery_bucket in ('delivered', 'failed')), true) as all_done
from stage_recipient;
