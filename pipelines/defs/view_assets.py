"""The analyst-facing views of schema ``sms`` as assets, downstream of what they read, so the
lineage in the UI runs from the vendors to each relation a dashboard queries.

Their dependencies come from the view files (``pipelines.warehouse.lineage``). A view holds
no data of its own: materializing one records its columns (with their descriptions) and its
rows, counted where that is cheap and estimated by the planner where it is not.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
from collections.abc import Iterator

import dagster as dg
from dagster import AssetExecutionContext

from pipelines.defs.raw_assets import FRESHNESS, NIXFLEX_RAW, SMSFACTOR_RAW
from pipelines.defs.resources import WarehouseResource
from pipelines.defs.sms_assets import (
    CAMPAIGN_DELIVERY,
    FACT_RECIPIENT_DELIVERY,
    FACT_RECIPIENT_STATUS_CHANGE,
    sms_table_keys,
)
from pipelines.warehouse import introspect, lineage
from pipelines.warehouse.migrate import ViewDefinition, discover_views

# Views that are assets already: the facts the load materializes, and the delivery mart.
_ALREADY_ASSETS = {".".join(k.path): k for k in [*sms_table_keys(), CAMPAIGN_DELIVERY]}
# Tables that are not assets, by the asset whose step writes them.
_WRITTEN_BY = {
    "sms.recipient_delivery": [FACT_RECIPIENT_DELIVERY],
    "sms.recipient_status_transition": [FACT_RECIPIENT_STATUS_CHANGE],
    "sms.campaign_poll_state": [NIXFLEX_RAW, SMSFACTOR_RAW],
    "sms.account_poll_state": [NIXFLEX_RAW, SMSFACTOR_RAW],
    "raw.vendor_response": [NIXFLEX_RAW, SMSFACTOR_RAW],
}

VIEWS = [v for v in discover_views() if v.relation not in _ALREADY_ASSETS]
VIEW_KEYS = {v.relation: dg.AssetKey(v.relation.split(".")) for v in VIEWS}


def _upstream(relation: str) -> list[dg.AssetKey]:
    """The assets behind a relation a view reads; one no asset stands for is an error here,
    at definition time, rather than a gap in the lineage."""
    if relation in _ALREADY_ASSETS:
        return [_ALREADY_ASSETS[relation]]
    if relation in VIEW_KEYS:
        return [VIEW_KEYS[relation]]
    if relation in _WRITTEN_BY:
        return _WRITTEN_BY[relation]
    if relation.startswith("sms."):
        return sms_table_keys()  # a table the load keeps (an aggregate): written with the facts
    raise ValueError(f"a view reads {relation}, which no asset stands for")


def _deps(view: ViewDefinition) -> list[dg.AssetKey]:
    keys = {key for relation in lineage.reads(view) for key in _upstream(relation)}
    return sorted(keys, key=lambda k: k.to_user_string())


@dg.multi_asset(
    name="analyst_views",
    specs=[
        dg.AssetSpec(
            VIEW_KEYS[view.relation],
            deps=_deps(view),
            group_name="marts",
            description=f"{view.relation} (view): see its COMMENT ON in the warehouse or "
            "docs/analysts.md.",
            kinds={"postgres"},
            freshness_policy=FRESHNESS,
        )
        for view in VIEWS
    ],
    can_subset=True,
)
def analyst_views(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Record each selected view's columns and rows as they are now (in file order: a view
    after those it reads)."""
    engine = warehouse.engine()
    for key in [k for k in VIEW_KEYS.values() if k in context.selected_asset_keys]:
        schema, relation = key.path
        cols = introspect.columns(engine, schema, relation)
        count = introspect.row_count(engine, schema, relation)
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": count.rows,
                "row_count_is_estimate": count.estimated,
                "dagster/table_name": f"{schema}.{relation}",
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(c.name, c.type, description=c.description) for c in cols
                    ]
                ),
            },
        )
