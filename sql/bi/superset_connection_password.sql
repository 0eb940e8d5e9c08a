-- Run on Superset's own metadata (SQLite), not on the warehouse: whether Superset keeps a
-- password (encrypted with the install's secret key) for the connection named ?.
select password from dbs where database_name = ?;
