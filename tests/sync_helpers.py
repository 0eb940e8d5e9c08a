"""Run the real Dagster job in-process, as the schedule and ``make sync`` do."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine, text

from pipelines.definitions import build_definitions

# The documented Nixflex counting rule, restated from the seed page for the tests (never
# imported from the product, so a wrong rule in the product cannot agree with itself).
BUCKET = {
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "sent": "failed",
    "pending": "pending",
    "queued": "pending",
}


def run_full_sync(job_name: str = "full_sync") -> dg.ExecuteInProcessResult:
    """Build the definitions from the current environment and run ``full_sync`` once."""
    defs = build_definitions()
    job = defs.resolve_job_def(job_name)
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def checks_by_name(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def rows(engine: Engine, sql: str, **params: object) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings().all()]
