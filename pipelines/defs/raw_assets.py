"""Raw landing assets: one per vendor declaration (``pipelines.vendors.declared``), each
landing every answer before any transform, in the vendor's own concurrency pool (limit 1 in
.dagster/dagster.yaml and deploy/): two runs at once poll a vendor one after the other,
sharing its rate-limit budget.

Each asset reports whether its vendor answered through a check of its own, so that a vendor
that is down (or not configured) shows in the UI and in ``make sync`` without stopping the
other vendor or the load of what was fetched. Its metadata also says, per account, how long
ago the watched campaign read longest ago was read (``oldest_unsettled_read_minutes``).
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
from collections.abc import Iterator, Sequence
from datetime import timedelta

import dagster as dg
from dagster import AssetExecutionContext
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from pipelines import clock
from pipelines.defs.resources import VendorResource
from pipelines.fetch import FetchReport
from pipelines.polling.state import AccountReadAge, read_ages
from pipelines.vendors.declared import VENDORS, Vendor
from pipelines.vendors.transport import VendorClient

FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=45), warn_window=timedelta(minutes=20)
)


class PollConfig(dg.Config):
    """Run configuration of a poll (the ``force_refresh`` job sets ``refresh_all``)."""

    refresh_all: bool = False
    refresh_campaign_ids: list[str] = []


def _poll_metadata(reports: list[FetchReport]) -> dict[str, int]:
    return {
        "accounts": len(reports),
        "responses_landed": sum(r.responses_landed for r in reports),
        "pages_read": sum(r.pages_read for r in reports),
        "campaigns_listed": sum(r.campaigns_listed for r in reports),
        "campaigns_fetched": sum(r.campaigns_fetched for r in reports),
        "skipped_unchanged": sum(r.skipped_unchanged for r in reports),
        "skipped_settled": sum(r.skipped_settled for r in reports),
        "rate_limited_429s": sum(r.throttled for r in reports),
        "problems": sum(len(r.problems) for r in reports),
    }


def read_age_metadata(ages: list[AccountReadAge]) -> dict[str, object]:
    """The poll's staleness figures: the oldest read over every account (a number the UI
    plots over time) and a table naming, per account, the campaign read longest ago."""
    if ages:
        lines = [
            "| account | unsettled campaigns | oldest last read | campaign |",
            "|---|---|---|---|",
        ]
        for a in ages:
            read = "never read, first seen" if a.oldest_never_read else "read"
            lines.append(
                f"| {a.account} | {a.unsettled_campaigns} | {a.oldest_read_minutes:.1f} min "
                f"({read} {a.oldest_read_at.isoformat(timespec='seconds')}) "
                f"| {a.oldest_campaign_id} |"
            )
        table = "\n".join(lines)
    else:
        table = "no unsettled campaign: nothing waits for a read"
    return {
        "oldest_unsettled_read_minutes": dg.MetadataValue.float(
            max((a.oldest_read_minutes for a in ages), default=0.0)
        ),
        "unsettled_campaigns": sum(a.unsettled_campaigns for a in ages),
        "unsettled_read_age": dg.MetadataValue.md(table),
    }


def _read_age(context: AssetExecutionContext, engine: Engine, provider: str) -> dict[str, object]:
    """``read_age_metadata`` after the poll; a warehouse that fails here is logged, and the
    poll still reports what it fetched and its check."""
    try:
        return read_age_metadata(read_ages(engine, provider, clock.utcnow()))
    except SQLAlchemyError as exc:
        context.log.warning(f"{provider}: the unsettled campaigns' read age is unknown: {exc}")
        return {"unsettled_read_age": dg.MetadataValue.md(f"unknown: {type(exc).__name__}")}


def _not_polled(key: dg.AssetKey, check: str, not_configured: str) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"status": not_configured},
        check_results=[
            dg.AssetCheckResult(
                asset_key=key,
                check_name=check,
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=not_configured,
                metadata={"status": "not configured"},
            )
        ],
    )


def _result(
    key: dg.AssetKey,
    check: str,
    reports: list[FetchReport],
    not_configured: str | None,
    read_age: dict[str, object] | None = None,
) -> dg.MaterializeResult:
    """The poll's metadata, and its check: ERROR when an account could not be read."""
    if not_configured:
        return _not_polled(key, check, not_configured)
    fatal = [f"{r.label}: {r.fatal}" for r in reports if r.fatal]
    problems = [f"{r.label}: {p}" for r in reports for p in r.problems]
    metadata = _poll_metadata(reports)
    per_account = "\n".join(f"- {r.summary()}" for r in reports)
    details = fatal + problems[:20]
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "status": "some account unreachable" if fatal else "polled",
            "accounts_polled": dg.MetadataValue.md(per_account),
            **(read_age or {}),
        },
        check_results=[
            dg.AssetCheckResult(
                asset_key=key,
                check_name=check,
                passed=not fatal and not problems,
                # An unreadable account (bad key, down) is an error; a few failed requests (a
                # campaign that vanished between list and get) are kept, quarantined, warned.
                severity=dg.AssetCheckSeverity.ERROR if fatal else dg.AssetCheckSeverity.WARN,
                description="; ".join(fatal)
                or (f"{len(problems)} request(s) failed" if problems else "every request answered"),
                metadata={
                    **metadata,
                    "errors": dg.MetadataValue.md("\n".join(f"- {d}" for d in details) or "none"),
                },
            )
        ],
    )


def _poll_accounts(
    context: AssetExecutionContext,
    config: PollConfig,
    vendor: Vendor,
    engine: Engine,
    clients: Sequence[VendorClient],
) -> list[FetchReport]:
    """Poll each account in turn; one account failing does not stop the others."""
    policy = context.resources.polling.policy(
        refresh_all=config.refresh_all, refresh_campaign_ids=config.refresh_campaign_ids
    )
    reports = []
    for client in clients:
        report = vendor.fetch(
            client,
            engine,
            policy=policy,
            run_id=context.run_id,
            progress=context.log.info,
        )
        if report.fatal:
            context.log.error(f"{report.label} could not be read: {report.fatal}")
        reports.append(report)
    return reports


def _poll_vendor(
    context: AssetExecutionContext, config: PollConfig, vendor: Vendor, key: dg.AssetKey
) -> dg.MaterializeResult:
    """Poll every account of ``vendor`` and say, through its check, whether each answered."""
    check = check_name(vendor)
    access: VendorResource = getattr(context.resources, vendor.name)
    if not access.configured:
        context.log.warning(vendor.not_configured)
        return _result(key, check, [], vendor.not_configured)
    # The engine first: a warehouse that is down stops the poll before any call.
    engine = context.resources.warehouse.engine()
    with access.clients() as clients:
        reports = _poll_accounts(context, config, vendor, engine, clients)
    read_age = _read_age(context, engine, vendor.name)
    return _result(key, check, reports, None, read_age)


def raw_key(vendor: Vendor) -> dg.AssetKey:
    return dg.AssetKey(["raw", f"{vendor.name}_responses"])


def check_name(vendor: Vendor) -> str:
    return f"{vendor.name}_api_answered"


def raw_asset(vendor: Vendor) -> dg.AssetsDefinition:
    """The raw landing asset of ``vendor``, run in the vendor's pool, with its check."""
    key = raw_key(vendor)

    @dg.asset(
        key=key,
        group_name=vendor.name,
        kinds={"python", "postgres"},
        description=f"Every {vendor.label} {vendor.landed}, landed as it came in "
        "raw.vendor_response before anything reads it.",
        check_specs=[
            dg.AssetCheckSpec(
                check_name(vendor),
                asset=key,
                description=f"Every {vendor.label} request of the sync got an answer "
                f"(WARN when {vendor.env.secret} is unset).",
            )
        ],
        freshness_policy=FRESHNESS,
        metadata={"dagster/table_name": "raw.vendor_response"},
        pool=vendor.pool,
        required_resource_keys={vendor.name, "polling", "warehouse"},
    )
    def poll(context: AssetExecutionContext, config: PollConfig) -> Iterator[dg.MaterializeResult]:
        yield _poll_vendor(context, config, vendor, key)

    return poll


nixflex_responses, smsfactor_responses = RAW_ASSETS = tuple(raw_asset(v) for v in VENDORS)
NIXFLEX_RAW, SMSFACTOR_RAW = (asset.key for asset in RAW_ASSETS)
NIXFLEX_POOL, SMSFACTOR_POOL = (vendor.pool for vendor in VENDORS)
