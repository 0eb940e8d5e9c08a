-- A rewrite of sms to the setting :target begins (from the first campaign): recorded before
-- any row is rewritten, so a rewrite cut short resumes, and one towards another setting
-- starts over. What the rows were written with stays recorded until the rewrite ends.
insert into meta.sms_privacy (only_row, written_with, rewriting_to, rewritten_through)
values (true, null, :target, null)
on conflict (only_row) do update
set rewriting_to = excluded.rewriting_to,
    rewritten_through = null;
