"""The analyst-facing views are assets downstream of what they read: the lineage the UI shows
is the one Postgres records, and a sync records each view's columns and rows."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine

from pipelines.definitions import build_definitions
from pipelines.warehouse.migrate import discover_views
from tests.conftest import SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, scalar

# What each view reads, as the catalog records it (the rewrite rule's dependencies).
_READS = """
select distinct v.oid::regclass::text as view, d.refobjid::regclass::text as reads
from pg_rewrite as r
join pg_class as v on v.oid = r.ev_class
join pg_depend as d
  on d.objid = r.oid and d.classid = 'pg_rewrite'::regclass
 and d.refclassid = 'pg_class'::regclass
where d.refobjid <> v.oid and v.relkind = 'v' and v.relnamespace = 'sms'::regnamespace
"""

# The asset standing for a relation no asset is named after (storage behind a view, the
# pollers' state, the raw landing): the asset whose step writes it.
_STORAGE = {
    "sms.recipient_delivery": {"sms/fact_recipient_delivery"},
    "sms.recipient_status_transition": {"sms/fact_recipient_status_change"},
    "sms.account_poll_state": {"raw/nixflex_responses", "raw/smsfactor_responses"},
    "sms.campaign_poll_state": {"raw/nixflex_responses", "raw/smsfactor_responses"},
    "raw.vendor_response": {"raw/nixflex_responses", "raw/smsfactor_responses"},
}
_LOADED = {
    "sms/dim_campaign",
    "sms/fact_recipient_delivery",
    "sms/fact_recipient_status_change",
    "sms/fact_campaign_counters",
}


def _expected_parents(relation: str, assets: set[str]) -> set[str]:
    key = relation.replace(".", "/")
    if key in assets:
        return {key}
    if relation in _STORAGE:
        return _STORAGE[relation]
    return _LOADED  # a table the load keeps beside the facts


def test_every_view_is_an_asset_whose_parents_are_what_postgres_says_it_reads(
    engine: Engine,
) -> None:
    graph = build_definitions().resolve_asset_graph()
    assets = {k.to_user_string() for k in graph.get_all_asset_keys()}
    views = {v.relation for v in discover_views()}
    assert {v.replace(".", "/") for v in views} <= assets
    reads: dict[str, set[str]] = {}
    for r in rows(engine, _READS):
        reads.setdefault(r["view"], set()).add(r["reads"])
    checked = 0
    for view in views - {"sms.fact_recipient_delivery", "sms.fact_recipient_status_change"}:
        if view == "sms.campaign_delivery":
            continue  # an asset of its own since 0.1, downstream of every loaded table
        parents = {p.to_user_string() for p in graph.get(dg.AssetKey(view.split("."))).parent_keys}
        expected = set().union(*(_expected_parents(r, assets) for r in reads.get(view, set())))
        assert parents == expected, view
        checked += 1
    assert checked >= 10


def test_a_sync_records_each_views_columns_and_rows(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    result = run_full_sync()
    assert result.success
    recorded = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.materialization]
    }
    daily = recorded["sms/daily_delivery"]
    assert daily["dagster/row_count"].value == scalar(
        engine, "select count(*) from sms.daily_delivery"
    )
    assert daily["dagster/row_count"].value > 0
    columns = {c.name: c.description for c in daily["dagster/column_schema"].schema.columns}
    assert list(columns)[:4] == ["day", "provider", "account", "sender"]
    assert all(columns.values()), "every column carries its COMMENT ON"
    freshness = recorded["sms/data_freshness"]
    assert freshness["dagster/row_count"].value == 2  # one account per vendor, both polled
