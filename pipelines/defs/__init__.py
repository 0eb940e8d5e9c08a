"""Dagster layer: thin assets, checks, resources and the schedule over the plain modules."""
