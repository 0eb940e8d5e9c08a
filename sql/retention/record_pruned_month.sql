-- A month of raw.vendor_response was deleted: say so (raw.pruned_month).
insert into raw.pruned_month (month, answers) values (:month, :answers)
on conflict (month) do update set answers = raw.pruned_month.answers + excluded.answers,
    pruned_at = now();
