"""The warehouse's data-quality checks: each a thin wrapper over one ``sql/checks/*.sql`` file.

The SQL lists offending rows (the same query an analyst can run in psql); the wrapper turns
them into a Dagster result naming the offending campaigns. Key and count rules are ERROR and
blocking; undocumented vendor maths, quarantine and freshness are WARN. Values a check's SQL
takes besides ``:since`` come from the resources (``:stale_after_minutes`` from
PollingResource) and show in the result's metadata.
"""

from dataclasses import dataclass
from datetime import datetime

import dagster as dg

from pipelines.defs.detection import detection_checks
from pipelines.defs.resources import PollingResource, WarehouseResource
from pipelines.defs.sms_assets import (
    DIM_CAMPAIGN,
    FACT_CAMPAIGN_COUNTERS,
    FACT_RECIPIENT_DELIVERY,
    LOADED_SINCE,
)
from pipelines.warehouse.checks import (
    CheckOutcome,
    run_check,
    stale_after_minutes,
    takes,
    takes_since,
)
from pipelines.warehouse.reconcile import SAMPLE_AFTER_SYNC, SAMPLE_FULL, reconcile

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN
EXAMPLES = 20


@dataclass(frozen=True)
class SqlCheck:
    name: str
    asset: dg.AssetKey
    severity: dg.AssetCheckSeverity
    blocking: bool
    description: str
    # What it looks at after a sync (its SQL takes :since, the start of the run's load).
    after_sync: str = "campaigns loaded since {since} (this run's load)"


SQL_CHECKS: tuple[SqlCheck, ...] = (
    SqlCheck(
        "nixflex_counts_match_recipients",
        FACT_RECIPIENT_DELIVERY,
        ERROR,
        True,
        "Nixflex's reported total/delivered/failed/pending equal the counts recomputed "
        "from recipients by the documented rule.",
    ),
    SqlCheck(
        "nixflex_recipient_status_is_documented",
        FACT_RECIPIENT_DELIVERY,
        ERROR,
        False,
        "Every Nixflex recipient status is a documented one (others land in 'unknown').",
    ),
    SqlCheck(
        "nixflex_recipient_is_unique",
        FACT_RECIPIENT_DELIVERY,
        ERROR,
        True,
        "No (campaign_id, phone) is listed twice in a campaign's latest answer.",
    ),
    SqlCheck(
        "smsfactor_counters_within_total",
        FACT_CAMPAIGN_COUNTERS,
        ERROR,
        True,
        "SMSFactor delivered + error + expired + network_error + npai <= total.",
    ),
    SqlCheck(
        "smsfactor_delivery_rate_matches",
        FACT_CAMPAIGN_COUNTERS,
        WARN,
        False,
        "SMSFactor delivery_rate is within one point of delivered/total*100 (formula "
        "undocumented, so a mismatch warns).",
    ),
    SqlCheck(
        "raw_response_loaded_or_quarantined",
        DIM_CAMPAIGN,
        ERROR,
        True,
        "Every fetched vendor answer was loaded or quarantined with its reason.",
        after_sync="answers landed before {since}, when this run's load started",
    ),
    SqlCheck(
        "no_quarantine_in_last_day",
        DIM_CAMPAIGN,
        WARN,
        False,
        "Nothing was quarantined in the last 24 hours (see raw.quarantine).",
    ),
    SqlCheck(
        "vendor_fields_are_documented",
        DIM_CAMPAIGN,
        WARN,
        False,
        "Vendor answers in the last 24 hours had only documented fields (others are loaded "
        "without, and noted in raw.quarantine as unknown_field).",
    ),
    SqlCheck(
        "data_is_fresh",
        DIM_CAMPAIGN,
        WARN,
        False,
        "Each vendor answered successfully in the last 30 minutes.",
    ),
    SqlCheck(
        "unsettled_campaigns_are_read_in_time",
        DIM_CAMPAIGN,
        WARN,
        False,
        "Every campaign polling still watches (not settled, not vanished; both vendors) "
        "was read within recheck_minutes plus one 15-minute sync cycle (one never read: "
        "first seen within that).",
    ),
    SqlCheck(
        "aggregates_match_facts",
        DIM_CAMPAIGN,
        ERROR,
        True,
        "The aggregates the dashboards' views read (sms.campaign_outcome, "
        "sms.campaign_delivery_time), kept by the loader, equal each campaign's outcomes and "
        "times to delivery recounted from its facts.",
    ),
    SqlCheck(
        "failure_reasons_are_categorised",
        FACT_RECIPIENT_DELIVERY,
        WARN,
        False,
        "Every failed Nixflex recipient's reason maps to a failure category "
        "(sms.failure_category_map); the others count as 'other' and are listed with their "
        "message counts.",
    ),
    SqlCheck(
        "recipient_phone_names_a_country",
        FACT_RECIPIENT_DELIVERY,
        WARN,
        False,
        "Every Nixflex recipient's phone names a country (phonenumbers, at load); lists per "
        "campaign how many recipients have none (country NULL).",
    ),
)


def _markdown_table(outcome: CheckOutcome) -> str:
    rows = outcome.rows[:EXAMPLES]
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(r[h]) for h in headers) + " |" for r in rows]
    return "\n".join(lines)


def to_result(
    spec: SqlCheck,
    outcome: CheckOutcome,
    scope: str,
    params: dict[str, object] | None = None,
) -> dg.AssetCheckResult:
    """Offending rows → a result whose metadata names the campaigns and says what was
    looked at (``params``: the values given to its SQL besides ``:since``)."""
    metadata: dict[str, object] = {
        "offending_rows": len(outcome.rows),
        "sql_file": f"sql/checks/{spec.name}.sql",
        "scope": scope,
        **(params or {}),
    }
    if not outcome.passed:
        metadata["offending_campaigns"] = ", ".join(outcome.campaigns)
        metadata["examples"] = dg.MetadataValue.md(_markdown_table(outcome))
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=spec.severity,
        description=spec.description
        if outcome.passed
        else f"{len(outcome.campaigns)} offending: {', '.join(outcome.campaigns[:10])}",
        metadata=metadata,
    )


def since_this_runs_load(
    context: dg.AssetCheckExecutionContext, asset: dg.AssetKey
) -> datetime | None:
    """When this run's load started, if this run loaded ``asset``; else None (a run of the
    checks alone, e.g. the daily ``full_checks``, looks at everything). Read from this
    run's own events: another run's later load says nothing about what this one loaded."""
    events = context.instance.all_logs(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    for record in reversed(events):
        materialization = record.asset_materialization
        if materialization is not None and materialization.asset_key == asset:
            since = materialization.metadata.get(LOADED_SINCE)
            return datetime.fromisoformat(str(since.value)) if since is not None else None
    return None


def check_params(name: str, polling: PollingResource) -> dict[str, object]:
    """The values ``sql/checks/<name>.sql`` takes besides ``:since``, from the settings."""
    params: dict[str, object] = {}
    if takes(name, "stale_after_minutes"):
        params["stale_after_minutes"] = stale_after_minutes(polling.recheck_minutes)
    return params


def _build(spec: SqlCheck) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=spec.asset, name=spec.name, description=spec.description, blocking=spec.blocking
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        polling: PollingResource,
    ) -> dg.AssetCheckResult:
        since = since_this_runs_load(context, spec.asset) if takes_since(spec.name) else None
        scope = (
            spec.after_sync.format(since=since.isoformat())
            if since is not None
            else "every campaign"
        )
        params = check_params(spec.name, polling)
        outcome = run_check(warehouse.engine(), spec.name, since, params)
        return to_result(spec, outcome, scope, params)

    return _check


sql_checks = [_build(spec) for spec in SQL_CHECKS]


FACTS_MATCH_LATEST_ANSWER = "facts_match_latest_answer"


@dg.asset_check(
    asset=DIM_CAMPAIGN,
    name=FACTS_MATCH_LATEST_ANSWER,
    blocking=True,
    description="Each campaign's facts equal its latest loaded answer read by the documented "
    "rules (Nixflex: status, reported counts and counted recipients per status; SMSFactor: "
    f"status and counters). Sampled: at most {SAMPLE_AFTER_SYNC} campaigns after a sync, "
    f"{SAMPLE_FULL} in full_checks.",
)
def facts_match_latest_answer(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    since = since_this_runs_load(context, DIM_CAMPAIGN)
    sample = SAMPLE_FULL if since is None else SAMPLE_AFTER_SYNC
    found = reconcile(warehouse.engine(), since, sample)
    outcome = CheckOutcome(FACTS_MATCH_LATEST_ANSWER, found.rows)
    scope = "every campaign" if since is None else f"campaigns loaded since {since.isoformat()}"
    metadata: dict[str, object] = {
        "offending_rows": len(found.rows),
        "scope": scope,
        "campaigns_in_scope": found.in_scope,
        "campaigns_compared": found.compared,
        "campaigns_without_raw_answer": found.without_raw,
        "sampled": found.sampled,
    }
    if not outcome.passed:
        metadata["offending_campaigns"] = ", ".join(outcome.campaigns)
        metadata["examples"] = dg.MetadataValue.md(_markdown_table(outcome))
    said = f"compared {found.compared} of {found.in_scope} campaigns" + (
        " (a random sample)" if found.sampled else ""
    )
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=ERROR,
        description=said
        if outcome.passed
        else f"{len(outcome.campaigns)} offending: {', '.join(outcome.campaigns[:10])}; {said}",
        metadata=metadata,
    )


all_checks = [*sql_checks, facts_match_latest_answer, *detection_checks]
