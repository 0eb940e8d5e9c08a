-- The recipients of campaign :campaign_id that the answer fetched at :observed_at (its
-- recipients staged in stage_recipient) does not list, when that answer is newer than
-- their last observation: Nixflex returns a campaign with every recipient, so they are no
-- longer the campaign's. Each is kept, marked missing since :observed_at (it leaves
-- sms.fact_recipient_delivery), and keeps its last observation: :latest_answer_at, the
-- campaign's latest answer before this one, which still listed it. A recipient already
-- missing keeps the time it went missing. An older answer, loaded late, marks nothing.
-- Returns one row per recipient marked.
update sms.recipient_delivery as f
set missing_since = cast(:observed_at as timestamptz),
    last_observed_at = greatest(
        coalesce(f.last_observed_at, f.first_seen_at), cast(:latest_answer_at as timestamptz)
    )
where f.campaign_id = cast(:campaign_id as text)
  and f.missing_since is null
  and greatest(
          coalesce(f.last_observed_at, f.first_seen_at), cast(:latest_answer_at as timestamptz)
      ) < cast(:observed_at as timestamptz)
  and not exists (select 1 from stage_recipient as s where s.phone = f.phone)
returning f.phone;
