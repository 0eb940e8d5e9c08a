-- Every sms row is now written with the setting :setting: recorded, and no rewrite is
-- under way any more.
insert into meta.sms_privacy (only_row, written_with)
values (true, :setting)
on conflict (only_row) do update
set written_with = excluded.written_with,
    recorded_at = now(),
    rewriting_to = null,
    rewritten_through = null;
