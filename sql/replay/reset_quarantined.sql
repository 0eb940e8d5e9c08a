-- Replay, first step (scope "quarantined"): every answer that was quarantined, or that
-- loaded with some of its items quarantined or flagged — of one provider (:provider), or
-- of both when NULL — loses its quarantine rows and is marked pending again, so that the
-- loader (with a fixed parser, say) reads it again from raw. The facts loaded from other
-- answers stay; an answer read again never moves a fact back in time (the loader's merge
-- is guarded by observation time). One statement, one transaction. Returns how many
-- answers were marked pending.
with affected as (
    select r.response_id
    from raw.vendor_response as r
    where (cast(:provider as text) is null or r.provider = :provider)
      and (
          r.load_status = 'quarantined'
          or exists (select 1 from raw.quarantine as q where q.response_id = r.response_id)
      )
),

cleared as (
    delete from raw.quarantine as q
    using affected as a
    where q.response_id = a.response_id
),

answers as (
    update raw.vendor_response as r
    set load_status = 'pending', loaded_at = null, load_note = null
    from affected as a
    where r.response_id = a.response_id
    returning 1
)

select count(*) as marked from answers;
