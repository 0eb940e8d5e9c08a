-- One migration applied, in the transaction that applied it.
insert into meta.schema_migration (version, name, checksum)
values (:version, :name, :checksum)
