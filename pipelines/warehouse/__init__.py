"""The Postgres warehouse: connection, migrations, landing, loading and check queries."""
