"""Alerts: when a check fails, a sync run fails or the data goes stale, one message per
incident to every destination of ``ALERT_URLS`` (``docs/alerts.md``).

``signals`` reads the open problems from the Dagster instance, ``incidents`` keeps them in
the warehouse (``meta.alert_incident``), ``messages`` writes what is said, ``delivery``
sends it (Apprise, or a JSON POST to a plain webhook), ``evaluate`` does one round of all
that; the sensor ``send_alerts`` (``pipelines/defs/alerts.py``) and
``python -m pipelines.alerts`` run it.
"""
