"""SMS delivery warehouse: vendor clients, warehouse loading and Dagster definitions."""
