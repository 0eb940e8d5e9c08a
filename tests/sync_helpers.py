"""Run the real Dagster job in-process, as the schedule and ``make sync`` do."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
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


def assert_mart_matches_vendors(
    engine: Engine, nixflex: dict[str, dict[str, Any]], smsfactor: dict[str, dict[str, Any]]
) -> None:
    """sms.campaign_delivery holds exactly these campaigns, each recomputed by hand from what
    the vendor serves: Nixflex from its recipients by the documented rule (BUCKET), SMSFactor
    from its counters (pending = total - delivered - failed - npai)."""
    mart = {
        (r["provider"], r["campaign_id"]): r
        for r in rows(engine, "select * from sms.campaign_delivery")
    }
    assert set(mart) == {("nixflex", c) for c in nixflex} | {("smsfactor", c) for c in smsfactor}
    for cid, doc in nixflex.items():
        buckets = [BUCKET.get(r["status"], "unknown") for r in doc["recipients"]]
        row = mart[("nixflex", cid)]
        assert (row["total"], row["delivered"], row["failed"], row["pending"], row["unknown"]) == (
            len(buckets),
            buckets.count("delivered"),
            buckets.count("failed"),
            buckets.count("pending"),
            buckets.count("unknown"),
        ), cid
        if row["total"]:
            assert float(row["delivery_rate"]) == pytest.approx(row["delivered"] / row["total"])
        else:
            assert row["delivery_rate"] is None
    for cid, doc in smsfactor.items():
        n = {
            k: int(doc[k])
            for k in ("total", "delivered", "error", "expired", "network_error", "npai")
        }
        failed = n["error"] + n["expired"] + n["network_error"]
        row = mart[("smsfactor", cid)]
        assert (row["total"], row["delivered"], row["failed"], row["pending"], row["unknown"]) == (
            n["total"],
            n["delivered"],
            failed,
            n["total"] - n["delivered"] - failed - n["npai"],
            0,
        ), cid
