"""The documented relations in schema ``sms`` (docs/data-model.md), built from the raw landing.

One multi-asset loads every pending answer into the four tables at once (an answer's facts
commit together with its load status, so the tables move together); the delivery mart is a
view over them.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
from collections.abc import Iterator, Sequence
from datetime import date
from enum import Enum

import dagster as dg
from dagster import AssetExecutionContext
from sqlalchemy import Engine, text

from pipelines.defs.raw_assets import FRESHNESS, NIXFLEX_RAW, SMSFACTOR_RAW
from pipelines.defs.resources import PollingResource, PrivacyResource, WarehouseResource
from pipelines.reporting.chart import as_markdown_image, rate_chart
from pipelines.warehouse import introspect, sqlfiles
from pipelines.warehouse.checks import loaded_since
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.replay import ReplayScope, replay
from pipelines.warehouse.retention import prune_raw

DIM_CAMPAIGN = dg.AssetKey(["sms", "dim_campaign"])
FACT_RECIPIENT_DELIVERY = dg.AssetKey(["sms", "fact_recipient_delivery"])
FACT_RECIPIENT_STATUS_CHANGE = dg.AssetKey(["sms", "fact_recipient_status_change"])
FACT_CAMPAIGN_COUNTERS = dg.AssetKey(["sms", "fact_campaign_counters"])
CAMPAIGN_DELIVERY = dg.AssetKey(["sms", "campaign_delivery"])

_TABLES: dict[dg.AssetKey, tuple[str, str]] = {  # key -> (group, grain)
    DIM_CAMPAIGN: ("sms", "one row per (provider, campaign_id), both vendors, as last read"),
    FACT_RECIPIENT_DELIVERY: (
        "nixflex",
        "one row per Nixflex (campaign_id, phone): the recipient's latest known state",
    ),
    FACT_RECIPIENT_STATUS_CHANGE: (
        "nixflex",
        "one row per observed change of a Nixflex recipient's status",
    ),
    FACT_CAMPAIGN_COUNTERS: (
        "smsfactor",
        "one row per SMSFactor (campaign_id, observed_at), when the counters moved",
    ),
}


# Metadata of the load's materializations: when its load started (warehouse clock). The
# checks run after it in the same run look only at campaigns loaded since then.
LOADED_SINCE = "loaded_since"


def sms_table_keys() -> list[dg.AssetKey]:
    """The tables ``load_sms_tables`` materializes together."""
    return list(_TABLES)


class Replay(Enum):
    """What to read again from raw before loading (the ``replay_from_raw`` job). Members
    are lower-case because run config names them (``replay: quarantined``)."""

    none = "none"
    all = "all"
    quarantined = "quarantined"


class LoadConfig(dg.Config):
    """Run configuration of the load: normally nothing; ``replay_from_raw`` sets ``replay``
    (``all`` or ``quarantined``) and optionally ``provider`` (``nixflex``/``smsfactor``)."""

    replay: Replay = Replay.none
    provider: str | None = None


# How each relation's preview is ordered: its newest rows first.
_PREVIEW_ORDER = {
    "dim_campaign": "last_polled_at desc, campaign_id",
    "fact_recipient_delivery": "status_changed_at desc, campaign_id",
    "fact_recipient_status_change": "observed_at desc, campaign_id",
    "fact_campaign_counters": "observed_at desc, campaign_id",
    "campaign_delivery": "as_of desc, campaign_id",
}


def latest_loaded(engine: Engine) -> list[str]:
    """The campaigns each vendor's loads touched last: the previews show their rows."""
    with engine.connect() as conn:
        sql = text(sqlfiles.read("reporting/latest_loaded_campaigns.sql"))
        return [str(c) for c in conn.execute(sql).scalars()]


def table_metadata(
    engine: Engine, key: dg.AssetKey, latest: Sequence[str] | None = None
) -> dict[str, object]:
    """Row count (estimated where counting would scan millions of rows), column schema and
    a preview of the rows of the campaigns loaded last (``latest``: ``latest_loaded``, read
    once by a caller that describes several relations), as the UI shows them (personal
    columns left out); its cost does not grow with the warehouse."""
    schema, relation = key.path
    cols = introspect.columns(engine, schema, relation)
    names, records = introspect.preview(
        engine,
        schema,
        relation,
        cols,
        _PREVIEW_ORDER[relation],
        campaigns=latest_loaded(engine) if latest is None else latest,
    )
    by_name = {c.name: c for c in cols}
    count = introspect.row_count(engine, schema, relation)
    return {
        "dagster/row_count": count.rows,
        "row_count_is_estimate": count.estimated,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in cols]
        ),
        "dagster/table_name": f"{schema}.{relation}",
        "preview": dg.MetadataValue.table(
            records=[dg.TableRecord(r) for r in records],
            schema=dg.TableSchema(
                columns=[dg.TableColumn(n, _table_type(by_name[n].type)) for n in names]
            ),
        ),
    }


def _table_type(pg_type: str) -> str:
    if pg_type in ("integer", "bigint", "smallint"):
        return "int"
    if pg_type in ("numeric", "double precision", "real"):
        return "float"
    return "bool" if pg_type == "boolean" else "string"


def delivery_chart(engine: Engine, days: int = 30) -> str:
    """Markdown holding a picture of each vendor's daily delivery rate."""
    with engine.connect() as conn:
        sql = text(sqlfiles.read("reporting/delivery_rate_by_day.sql"))
        found = conn.execute(sql, {"days": days})
        series: dict[str, list[tuple[date, float]]] = {}
        for day, provider, rate in found:
            series.setdefault(provider, []).append((day, float(rate)))
    svg = rate_chart(f"Delivery rate by day, last {days} days (campaigns by send day)", series)
    return as_markdown_image(svg, "delivery rate by day and vendor")


@dg.multi_asset(
    name="load_sms_tables",
    specs=[
        dg.AssetSpec(
            key,
            deps=[NIXFLEX_RAW, SMSFACTOR_RAW],
            group_name=group,
            description=f"sms.{key.path[-1]}: {grain}.",
            kinds={"postgres"},
            freshness_policy=FRESHNESS,
        )
        for key, (group, grain) in _TABLES.items()
    ],
)
def load_sms_tables(
    context: AssetExecutionContext,
    config: LoadConfig,
    warehouse: WarehouseResource,
    polling: PollingResource,
    privacy: PrivacyResource,
) -> Iterator[dg.MaterializeResult]:
    """Load every pending raw answer into the sms tables; each ends loaded or quarantined.
    With ``replay`` set (the ``replay_from_raw`` job), first read again from raw what it
    names."""
    engine = warehouse.engine()
    settle_window = polling.policy().settle_window
    written = privacy.privacy()
    since = loaded_since(engine)  # the checks of this run look at what is loaded from here
    extra: dict[str, object] = {}  # what a replay or raw retention did
    if config.replay == Replay.none:
        stats = load_pending(
            engine, progress=context.log.info, settle_window=settle_window, privacy=written
        )
    else:
        report = replay(
            engine,
            ReplayScope(config.replay.value),
            config.provider,
            progress=context.log.info,
            settle_window=settle_window,
            privacy=written,
        )
        stats = report.load
        extra = {"replay": report.scope.value, "answers_replayed": report.answers_marked}
    context.log.info(f"load finished: {stats.as_dict()}")
    if warehouse.raw_retention_months is not None:
        pruned = prune_raw(engine, warehouse.raw_retention_months, progress=context.log.info)
        extra["raw_months_deleted"] = len(pruned.months)
    latest = latest_loaded(engine)
    for key in _TABLES:
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                **table_metadata(engine, key, latest),
                **stats.as_dict(),
                **extra,
                "phones": "pseudonymised" if written.pseudonymised else "as received",
                LOADED_SINCE: since.isoformat(),
            },
        )


@dg.asset(
    key=CAMPAIGN_DELIVERY,
    deps=list(_TABLES),
    group_name="sms",
    kinds={"postgres"},
    description="sms.campaign_delivery (view): one row per (provider, campaign_id) with "
    "delivered/failed/pending/unknown by the documented rules and delivery_rate.",
    freshness_policy=FRESHNESS,
)
def campaign_delivery(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The mart is a view: materializing it records what it shows now."""
    engine = warehouse.engine()
    return dg.MaterializeResult(
        metadata={
            **table_metadata(engine, CAMPAIGN_DELIVERY),
            "delivery_rate_by_day": dg.MetadataValue.md(delivery_chart(engine)),
        }
    )
