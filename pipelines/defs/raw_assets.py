"""Raw landing assets: one per vendor, each landing every answer before any transform.

Each asset reports whether its vendor answered through a check of its own, so that a vendor
that is down (or not configured) shows in the UI and in ``make sync`` without stopping the
other vendor or the load of what was fetched. Its metadata also says, per account, how long
ago the watched campaign read longest ago was read (``oldest_unsettled_read_minutes``).
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

import dagster as dg
from dagster import AssetExecutionContext
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from pipelines import clock
from pipelines.defs.resources import (
    NixflexResource,
    PollingResource,
    SmsFactorResource,
    WarehouseResource,
)
from pipelines.fetch import FetchReport, fetch_nixflex, fetch_smsfactor
from pipelines.polling.state import AccountReadAge, read_ages
from pipelines.vendors.nixflex_client import NixflexClient
from pipelines.vendors.smsfactor_client import SmsFactorClient

NIXFLEX_RAW = dg.AssetKey(["raw", "nixflex_responses"])
SMSFACTOR_RAW = dg.AssetKey(["raw", "smsfactor_responses"])
# One Dagster concurrency pool per vendor (limit 1 in .dagster/dagster.yaml and deploy/):
# two runs at once poll a vendor one after the other, sharing its rate-limit budget.
Client = NixflexClient | SmsFactorClient
NIXFLEX_POOL, SMSFACTOR_POOL = "nixflex_api", "smsfactor_api"
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


def _result(
    key: dg.AssetKey,
    check: str,
    reports: list[FetchReport],
    not_configured: str | None,
    read_age: dict[str, object] | None = None,
) -> dg.MaterializeResult:
    if not_configured:
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
    polling: PollingResource,
    engine: Engine,
    clients: Sequence[Client],
    fetch: Callable[..., FetchReport],
) -> list[FetchReport]:
    """Poll each account in turn; one account failing does not stop the others."""
    policy = polling.policy(
        refresh_all=config.refresh_all, refresh_campaign_ids=config.refresh_campaign_ids
    )
    reports = []
    for client in clients:
        report = fetch(
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


@dg.asset(
    key=NIXFLEX_RAW,
    group_name="nixflex",
    kinds={"python", "postgres"},
    description="Every Nixflex answer (list pages and campaign details), landed as it came "
    "in raw.vendor_response before anything reads it.",
    check_specs=[
        dg.AssetCheckSpec(
            "nixflex_api_answered",
            asset=NIXFLEX_RAW,
            description="Every Nixflex request of the sync got an answer "
            "(WARN when NIXFLEX_API_KEY is unset).",
        )
    ],
    freshness_policy=FRESHNESS,
    metadata={"dagster/table_name": "raw.vendor_response"},
    pool=NIXFLEX_POOL,
)
def nixflex_responses(
    context: AssetExecutionContext,
    config: PollConfig,
    nixflex: NixflexResource,
    polling: PollingResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    if not nixflex.configured:
        message = "NIXFLEX_API_KEY is not set: Nixflex is not polled."
        context.log.warning(message)
        yield _result(NIXFLEX_RAW, "nixflex_api_answered", [], message)
        return
    engine = warehouse.engine()  # first: a warehouse that is down stops the poll before any call
    with nixflex.clients() as clients:
        reports = _poll_accounts(context, config, polling, engine, clients, fetch_nixflex)
    read_age = _read_age(context, engine, "nixflex")
    yield _result(NIXFLEX_RAW, "nixflex_api_answered", reports, None, read_age)


@dg.asset(
    key=SMSFACTOR_RAW,
    group_name="smsfactor",
    kinds={"python", "postgres"},
    description="Every SMSFactor campaign-history page, landed as it came in "
    "raw.vendor_response before anything reads it.",
    check_specs=[
        dg.AssetCheckSpec(
            "smsfactor_api_answered",
            asset=SMSFACTOR_RAW,
            description="Every SMSFactor request of the sync got an "
            "answer (WARN when SMSFACTOR_API_TOKEN is unset).",
        )
    ],
    freshness_policy=FRESHNESS,
    metadata={"dagster/table_name": "raw.vendor_response"},
    pool=SMSFACTOR_POOL,
)
def smsfactor_responses(
    context: AssetExecutionContext,
    config: PollConfig,
    smsfactor: SmsFactorResource,
    polling: PollingResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    if not smsfactor.configured:
        message = "SMSFACTOR_API_TOKEN is not set: SMSFactor is not polled."
        context.log.warning(message)
        yield _result(SMSFACTOR_RAW, "smsfactor_api_answered", [], message)
        return
    engine = warehouse.engine()  # first: a warehouse that is down stops the poll before any call
    with smsfactor.clients() as clients:
        reports = _poll_accounts(context, config, polling, engine, clients, fetch_smsfactor)
    read_age = _read_age(context, engine, "smsfactor")
    yield _result(SMSFACTOR_RAW, "smsfactor_api_answered", reports, None, read_age)
