"""Incremental polling: what to fetch this cycle, decided from what the warehouse holds."""
