"""Raw landing assets: one per vendor, each landing every answer before any transform.

Each asset reports whether its vendor answered through a check of its own, so that a vendor
that is down (or not configured) shows in the UI and in ``make sync`` without stopping the
other vendor or the load of what was fetched.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
from dagster import AssetExecutionContext

from pipelines.defs.resources import NixflexResource, SmsFactorResource, WarehouseResource
from pipelines.fetch import FetchReport, fetch_nixflex, fetch_smsfactor

NIXFLEX_RAW = dg.AssetKey(["raw", "nixflex_responses"])
SMSFACTOR_RAW = dg.AssetKey(["raw", "smsfactor_responses"])
FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=45), warn_window=timedelta(minutes=20)
)


def _result(
    key: dg.AssetKey, check: str, report: FetchReport | None, not_configured: str | None
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
    assert report is not None
    metadata = {
        "responses_landed": report.responses_landed,
        "campaigns_listed": report.campaigns_listed,
        "campaigns_fetched": report.campaigns_fetched,
        "problems": len(report.problems),
    }
    details = ([report.fatal] if report.fatal else []) + report.problems[:20]
    return dg.MaterializeResult(
        metadata={**metadata, "status": "vendor unreachable" if report.fatal else "polled"},
        check_results=[
            dg.AssetCheckResult(
                asset_key=key,
                check_name=check,
                passed=report.ok,
                # An unreadable vendor (bad key, down) is an error; a few failed requests (a
                # campaign that vanished between list and get) are kept, quarantined, warned.
                severity=(
                    dg.AssetCheckSeverity.ERROR if report.fatal else dg.AssetCheckSeverity.WARN
                ),
                description=report.fatal
                or (
                    f"{len(report.problems)} request(s) failed"
                    if report.problems
                    else "every request answered"
                ),
                metadata={
                    **metadata,
                    "errors": dg.MetadataValue.md("\n".join(f"- {d}" for d in details) or "none"),
                },
            )
        ],
    )


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
)
def nixflex_responses(
    context: AssetExecutionContext, nixflex: NixflexResource, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    if not nixflex.configured:
        message = "NIXFLEX_API_KEY is not set: Nixflex is not polled."
        context.log.warning(message)
        yield _result(NIXFLEX_RAW, "nixflex_api_answered", None, message)
        return
    with nixflex.client() as client:
        report = fetch_nixflex(
            client, warehouse.engine(), run_id=context.run_id, progress=context.log.info
        )
    if report.fatal:
        context.log.error(f"Nixflex could not be read: {report.fatal}")
    yield _result(NIXFLEX_RAW, "nixflex_api_answered", report, None)


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
)
def smsfactor_responses(
    context: AssetExecutionContext, smsfactor: SmsFactorResource, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    if not smsfactor.configured:
        message = "SMSFACTOR_API_TOKEN is not set: SMSFactor is not polled."
        context.log.warning(message)
        yield _result(SMSFACTOR_RAW, "smsfactor_api_answered", None, message)
        return
    with smsfactor.client() as client:
        report = fetch_smsfactor(
            client, warehouse.engine(), run_id=context.run_id, progress=context.log.info
        )
    if report.fatal:
        context.log.error(f"SMSFactor could not be read: {report.fatal}")
    yield _result(SMSFACTOR_RAW, "smsfactor_api_answered", report, None)
