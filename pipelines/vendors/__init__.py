"""Vendor boundary: HTTP clients and pure parsers for Nixflex and SMSFactor (no Dagster here)."""
