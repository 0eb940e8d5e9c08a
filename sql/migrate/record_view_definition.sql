-- One file of sql/views/ applied (again), in the transaction that applied it.
insert into meta.view_definition (name, checksum)
values (:name, :checksum)
on conflict (name) do update
set checksum = excluded.checksum,
    applied_at = now()
