"""Pictures and summaries for the people who look at the warehouse (no Dagster here)."""
