-- Every pending campaign detail (of one provider, or all) whose bytes equal those of the
-- answer fetched just before it for the same campaign, when that one is loaded: the
-- campaign was polled and nothing else changed (see previous_answer.sql). All of them are
-- recorded in one statement (loaded, last_polled_at moves) instead of a transaction each;
-- an answer whose previous one is still pending is left to the loader, which decides after
-- loading that one. Returns how many were recorded.
with unchanged as (
    select a.response_id, a.provider, a.campaign_id, a.fetched_at, p.response_id as same_as
    from raw.vendor_response as a
    cross join lateral (
        select b.response_id, b.content_hash, b.load_status
        from raw.vendor_response as b
        where b.provider = a.provider
          and b.campaign_id = a.campaign_id
          and b.endpoint = a.endpoint
          and (b.fetched_at, b.response_id) < (a.fetched_at, a.response_id)
        order by b.fetched_at desc, b.response_id desc
        limit 1
    ) as p
    where a.load_status = 'pending'
      and (cast(:provider as text) is null or a.provider = :provider)
      and a.endpoint = 'campaign.get'
      and a.http_status between 200 and 299
      and p.load_status = 'loaded'
      and p.content_hash = a.content_hash
    for update of a skip locked
),

marked as (
    update raw.vendor_response as r
    set load_status = 'loaded',
        loaded_at = now(),
        load_note = 'unchanged: same bytes as answer ' || u.same_as || ', not re-read'
    from unchanged as u
    where r.response_id = u.response_id
    returning u.provider, u.campaign_id, u.fetched_at
),

polled as (
    select provider, campaign_id, max(fetched_at) as observed_at
    from marked
    group by provider, campaign_id
),

touched as (
    update sms.dim_campaign as d
    set last_polled_at = p.observed_at
    from polled as p
    where d.provider = p.provider
      and d.campaign_id = p.campaign_id
      and d.last_polled_at < p.observed_at
    returning 1
)

select count(*) as recorded from marked;
