-- Keep one item set aside from (or noted about) an answer that loaded.
insert into raw.quarantine (response_id, provider, campaign_id, kind, reason, item)
values (:id, :provider, :campaign_id, :kind, :reason, cast(:item as jsonb));
