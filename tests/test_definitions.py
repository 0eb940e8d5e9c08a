"""The Dagster code location as a user loads it: `dg check defs`, checks, schedule, secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.defs.checks import SQL_CHECKS
from pipelines.warehouse.checks import SYNC_EVERY_MINUTES
from pipelines.warehouse.sqlfiles import SQL_DIR

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_ASSETS = {
    "dim_campaign",
    "fact_recipient_delivery",
    "fact_recipient_status_change",
    "fact_campaign_counters",
    "campaign_delivery",
}


def test_dg_check_defs_passes() -> None:
    dg_bin = Path(sys.executable).parent / "dg"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIXFLEX", "SMSFACTOR"))}
    done = subprocess.run(
        [str(dg_bin), "check", "defs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_contract_relation_is_an_asset_with_kind_and_group() -> None:
    graph = build_definitions().resolve_asset_graph()
    sms = {key.path[-1]: key for key in graph.get_all_asset_keys() if key.path[0] == "sms"}
    assert set(sms) >= CONTRACT_ASSETS
    for key in sms.values():
        node = graph.get(key)
        assert "postgres" in node.kinds
        assert node.group_name


def test_each_check_file_is_a_check_and_failures_block_where_the_contract_says() -> None:
    files = {p.stem for p in (SQL_DIR / "checks").glob("*.sql")}
    assert {c.name for c in SQL_CHECKS} == files
    graph = build_definitions().resolve_asset_graph()
    declared = {k.name for k in graph.asset_check_keys}
    assert files <= declared
    blocking = {c.name for c in SQL_CHECKS if c.blocking}
    assert {
        "nixflex_counts_match_recipients",
        "nixflex_recipient_is_unique",
        "smsfactor_counters_within_total",
    } <= blocking
    warn = {c.name for c in SQL_CHECKS if c.severity == dg.AssetCheckSeverity.WARN}
    assert {"smsfactor_delivery_rate_matches", "unsettled_campaigns_are_read_in_time"} <= warn


def _header(name: str) -> str:
    """The leading comment of ``sql/checks/<name>.sql``, as one line of text."""
    lines = (SQL_DIR / "checks" / f"{name}.sql").read_text().splitlines()
    comment = []
    for line in lines:
        if not line.startswith("--"):
            break
        comment.append(line.removeprefix("--").strip())
    return " ".join(comment)


def test_each_check_file_states_its_rule_and_the_severity_dagster_reports() -> None:
    """An analyst reading the SQL sees the same severity the UI shows."""
    for check in SQL_CHECKS:
        header = _header(check.name)
        assert header.startswith("Rule"), check.name
        stated = re.findall(r"Severity: (ERROR|WARN)", header)
        assert stated == [check.severity.value], check.name


def test_the_15_minute_poll_is_on_by_default() -> None:
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("poll_vendors_every_15_minutes")
    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    # The staleness check allows one sync cycle on top of recheck_minutes: this one.
    assert schedule.cron_schedule == f"*/{SYNC_EVERY_MINUTES:.0f} * * * *"


def test_every_sql_check_runs_after_a_sync_and_in_the_daily_full_check() -> None:
    defs = build_definitions()
    for job_name in ("full_sync", "full_checks"):
        job = defs.resolve_job_def(job_name)
        checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
        assert {c.name for c in SQL_CHECKS} <= checks, job_name
        assert "unsettled_campaigns_are_read_in_time" in checks, job_name
        assert "facts_match_latest_answer" in checks, job_name


def test_the_daily_full_check_is_on_by_default_and_runs_every_sql_check_alone() -> None:
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("check_everything_daily")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "full_checks"
    job = defs.resolve_job_def("full_checks")
    checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert {c.name for c in SQL_CHECKS} <= checks
    assert not job.asset_layer.executable_asset_keys  # materializes nothing: fetches nothing


def test_credentials_reach_dagster_as_env_vars_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIXFLEX_API_KEY", "nxf_a:nxfs_secret_value")
    monkeypatch.setenv("SMSFACTOR_API_TOKEN", "sf_secret_value")
    resources = build_definitions().resources
    assert isinstance(resources, dict)
    for name in ("nixflex", "smsfactor"):
        config = resources[name]._get_non_default_public_field_values()
        env_vars = [v for v in config.values() if isinstance(v, dg.EnvVar)]
        plain = [v for v in config.values() if not isinstance(v, dg.EnvVar)]
        assert env_vars, f"{name}: the credential should be an EnvVar"
        assert not any("secret_value" in str(v) for v in plain)


def test_a_vendor_that_cannot_be_read_errors_but_one_failed_request_only_warns() -> None:
    from pipelines.defs.raw_assets import NIXFLEX_RAW, _result
    from pipelines.fetch import FetchReport

    down = FetchReport("nixflex", fatal="nixflex: the API key was refused (HTTP 401)")
    vanished = FetchReport("nixflex", problems=["campaign smsc_x: not found (HTTP 404)"])
    for report, severity in ((down, "ERROR"), (vanished, "WARN")):
        (check,) = _result(NIXFLEX_RAW, "nixflex_api_answered", [report], None).check_results
        assert not check.passed
        assert check.severity.value == severity  # ERROR makes `make sync` exit non-zero


def test_each_vendor_polls_in_its_own_pool() -> None:
    from pipelines.defs.raw_assets import NIXFLEX_RAW, SMSFACTOR_RAW

    defs = build_definitions()
    pools = {key: defs.resolve_assets_def(key).op.pool for key in (NIXFLEX_RAW, SMSFACTOR_RAW)}
    assert pools == {NIXFLEX_RAW: "nixflex_api", SMSFACTOR_RAW: "smsfactor_api"}
