"""Command line behind the Makefile: ``sync``, ``checks``, ``replay``, ``demo``,
``dev-demo``, ``psql``, ``raw-body``, ``stop-embedded``, ``bi`` (Superset: pipelines/bi.py).

``sync`` runs the ``full_sync`` job in this process against the Dagster instance in
``DAGSTER_HOME`` (so the run shows in the UI), then prints every check's result and, for
each failing check, the campaigns it names. Exit status 1 when the run failed or an
ERROR-severity check failed, or when a vendor pool stayed busy for ``SYNC_POOL_WAIT_MINUTES``
(pipelines/pools.py; runs left behind by a killed process are cleared first, see
pipelines/runs.py); 130 when stopped by Ctrl-C or SIGTERM before its run began.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import (
        AssetCheckEvaluation,
        DagsterInstance,
        ExecuteInProcessResult,
        JobDefinition,
    )

    from pipelines.simulator import Simulator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_PORT = 8765


@dataclass(frozen=True)
class CheckLine:
    asset: str
    name: str
    passed: bool
    severity: str
    campaigns: str


@dataclass(frozen=True)
class SyncOutcome:
    run_ok: bool
    checks: list[CheckLine]
    errors: tuple[str, ...] = ()  # each failed step: "step: first line of its error"
    not_started: str = ""  # why the run never started (a pool stayed busy)
    run_id: str = ""
    evaluations: tuple[AssetCheckEvaluation, ...] = ()  # as Dagster reported them

    @property
    def exit_code(self) -> int:
        failed_error = any(not c.passed and c.severity == "ERROR" for c in self.checks)
        return 0 if self.run_ok and not failed_error else 1


def run_sync(job_name: str = "full_sync", ops: dict[str, object] | None = None) -> SyncOutcome:
    """One run of a job (``full_sync``: every asset, every check) with the environment as it
    is now; ``ops`` is the run config of its ops (e.g. the replay's scope).

    With ``DAGSTER_HOME`` set the run goes in that instance: runs left in progress there by
    a process that is gone are failed first, and the job's pools are claimed before the run
    starts, waiting at most ``SYNC_POOL_WAIT_MINUTES`` (the outcome then says who held it).
    """
    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.pools import PoolWaitTimeout
    from pipelines.runs import reclaim_stale_runs

    job = build_definitions().resolve_job_def(job_name)
    local = bool(os.environ.get("DAGSTER_HOME"))
    instance = dg.DagsterInstance.get() if local else dg.DagsterInstance.ephemeral()
    with instance:
        reclaim_stale_runs(instance)
        try:
            result = _execute_with_pools(job, instance, ops)
        except PoolWaitTimeout as timeout:
            return SyncOutcome(False, [], not_started=f"{job_name} did not start: {timeout}")
    return _sync_outcome(result)


def _execute_with_pools(
    job: JobDefinition, instance: DagsterInstance, ops: dict[str, object] | None
) -> ExecuteInProcessResult:
    """Run the job in this process once its pools are claimed (``PoolWaitTimeout`` when a
    pool stays busy for ``SYNC_POOL_WAIT_MINUTES``)."""
    from pipelines.pools import claimed_pools, pool_claims, pool_wait_from_env
    from pipelines.runs import worker_tags

    run_id = str(uuid.uuid4())
    with claimed_pools(instance, pool_claims(job), run_id, pool_wait_from_env()):
        return job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_id=run_id,
            tags=worker_tags(),
            run_config={
                "loggers": {"console": {"config": {"log_level": "INFO"}}},
                **({"ops": ops} if ops else {}),
            },
        )


def _sync_outcome(result: ExecuteInProcessResult) -> SyncOutcome:
    """The run's success, its check results (sorted by asset and name) and its failed steps."""
    checks = [
        CheckLine(
            asset="/".join(e.asset_key.path),
            name=e.check_name,
            passed=e.passed,
            severity=e.severity.value,
            campaigns=str(e.metadata["offending_campaigns"].value)
            if "offending_campaigns" in e.metadata
            else (e.description or ""),
        )
        for e in result.get_asset_check_evaluations()
    ]
    errors = tuple(
        f"{event.step_key}: {_first_line(event.step_failure_data.error)}"
        for event in result.get_step_failure_events()
    )
    return SyncOutcome(
        result.success,
        sorted(checks, key=lambda c: (c.asset, c.name)),
        errors,
        run_id=result.run_id,
        evaluations=tuple(result.get_asset_check_evaluations()),
    )


def _first_line(error: object) -> str:
    """The error's own message, without Dagster's wrapping or the traceback."""
    if getattr(error, "cls_name", None) == "DagsterExecutionInterruptedError":
        return "interrupted by a signal (SIGTERM or Ctrl-C)"
    while getattr(error, "cause", None) is not None and "Error occurred while" in str(
        getattr(error, "message", "")
    ):
        error = error.cause  # type: ignore[attr-defined]
    message = str(getattr(error, "message", error)).strip()
    line = message.splitlines()[0] if message else "failed"
    return re.sub(r"^[A-Za-z_][\w.]*: ", "", line)  # Dagster prefixes the exception's class


def print_checks(outcome: SyncOutcome) -> None:
    if outcome.not_started:
        print(f"\nSync not started: {outcome.not_started}", file=sys.stderr)
        return
    print("\nChecks")
    for c in outcome.checks:
        mark = "PASS" if c.passed else ("FAIL" if c.severity == "ERROR" else "WARN")
        print(f"  {mark:4}  {c.asset} · {c.name}")
        if not c.passed and c.campaigns:
            print(f"        {c.campaigns}")
    if outcome.errors:
        print("\nFailed steps")
        for error in outcome.errors:
            print(f"  {error}")
    if not outcome.checks:
        print("  no check ran")
    passed = sum(c.passed for c in outcome.checks)
    print(
        f"  {passed}/{len(outcome.checks)} checks passed; run "
        f"{'succeeded' if outcome.run_ok else 'FAILED'}"
    )


def _load_dotenv() -> None:
    from dotenv import load_dotenv

    load_dotenv(PROJECT_ROOT / ".env", override=False)


def cmd_sync(_: argparse.Namespace) -> int:
    _load_dotenv()
    outcome = run_sync()
    print_checks(outcome)
    return outcome.exit_code


def cmd_checks(_: argparse.Namespace) -> int:
    """The ``full_checks`` job: every check over every campaign, nothing fetched or loaded."""
    _load_dotenv()
    outcome = run_sync("full_checks")
    print_checks(outcome)
    return outcome.exit_code


def cmd_replay(args: argparse.Namespace) -> int:
    """The ``replay_from_raw`` job, in this process (it shows in the UI like any run)."""
    _load_dotenv()
    config: dict[str, object] = {"replay": args.scope}
    if args.provider:
        config["provider"] = args.provider
    outcome = run_sync("replay_from_raw", {"load_sms_tables": {"config": config}})
    print_checks(outcome)
    return outcome.exit_code


@contextmanager
def _simulator(port: int, simulator: Simulator | None = None) -> Iterator[str]:
    from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN, Simulator, serve

    with serve(simulator or Simulator(), port=port) as base_url:
        os.environ.update(
            {
                "NIXFLEX_BASE_URL": f"{base_url}/nixflex/v1",
                "NIXFLEX_API_KEY": NIXFLEX_DEMO_KEY,
                "SMSFACTOR_BASE_URL": f"{base_url}/smsfactor",
                "SMSFACTOR_API_TOKEN": SMSFACTOR_DEMO_TOKEN,
            }
        )
        yield base_url


# The demo's first sync runs this long before now on the simulator's clock, so the second
# one (now) sees recipients delivered in between: times to delivery, changes, a history.
DEMO_LEAD = timedelta(hours=2)


def cmd_demo(_: argparse.Namespace) -> int:
    from pipelines import clock as pipeline_clock
    from pipelines.demo_history import HISTORY_DAYS, demo_simulator, poll_history
    from pipelines.demo_summary import print_alerts, print_summary
    from pipelines.warehouse.engine import EMBEDDED_DIR, get_engine

    # The demo always uses the embedded warehouse, never a WAREHOUSE_URL it may find.
    os.environ.pop("WAREHOUSE_URL", None)
    print(f"Starting the vendor simulator and the embedded warehouse ({EMBEDDED_DIR})...")
    now = datetime.now(UTC)
    start = now - DEMO_LEAD
    simulator, dropped, history = demo_simulator(now, DEMO_LEAD)
    sim_clock = simulator.clock
    with _simulator(0, simulator) as base_url, pipeline_clock.following(sim_clock.now):
        print(
            f"Simulator on {base_url}. Polling its past {HISTORY_DAYS} days every 2 hours: "
            f"campaigns on a daily schedule, and a 30-point delivery drop on sender {dropped} "
            "in the last hours..."
        )
        engine = get_engine(None)
        syncs = poll_history(engine, simulator, base_url, history, start, timedelta(hours=2))
        print(f"...{syncs} syncs done. A full sync with every check as of {DEMO_LEAD} ago...")
        sim_clock.set(start)
        run_sync()
        sim_clock.set(datetime.now(UTC))
        print("...and a second one now, which sees what moved in between:")
        outcome = run_sync()
    print_summary(outcome)
    print_alerts(outcome)
    return outcome.exit_code


def cmd_dev_demo(_: argparse.Namespace) -> int:
    os.environ.pop("WAREHOUSE_URL", None)
    with _simulator(DEMO_PORT) as base_url:
        print(f"Simulator on {base_url}; starting the Dagster UI on http://127.0.0.1:3000 ...")
        return subprocess.call(
            [str(Path(sys.executable).parent / "dg"), "dev", "-w", "workspace.yaml"],
            cwd=PROJECT_ROOT,
        )


def cmd_psql(_: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from pipelines.warehouse.engine import psql_binary, resolve_url

    _load_dotenv()
    url = make_url(resolve_url(os.environ.get("WAREHOUSE_URL") or None))
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # libpq wants the socket directory unescaped in host=.
    libpq = libpq.replace("%2F", "/")
    return subprocess.call([psql_binary(), libpq])


def cmd_raw_body(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from pipelines.warehouse.bodies import read_back
    from pipelines.warehouse.engine import WarehouseUnavailable, get_engine
    from pipelines.warehouse.migrate import ensure_migrated

    _load_dotenv()
    try:
        engine = get_engine(os.environ.get("WAREHOUSE_URL"))
        ensure_migrated(engine)
        with engine.connect() as conn:
            payload, body = read_back(conn, args.response_id)
    except (WarehouseUnavailable, OperationalError) as exc:
        print(f"cannot read the warehouse: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    if body is None and payload is None:
        print(f"no answer {args.response_id} in raw.vendor_response", file=sys.stderr)
        return 1
    if body is None:  # an answer held as jsonb in raw.vendor_response.payload
        import json

        body = json.dumps(payload).encode()
    sys.stdout.buffer.write(body)
    return 0


def cmd_bi(args: argparse.Namespace) -> int:
    """Superset on the warehouse with the dashboard of bi/dashboard/ (`make bi`)."""
    from pipelines.bi_superset import installed

    _load_dotenv()
    if not installed():
        print("Superset is not installed in .venv-bi: run `make bi`", file=sys.stderr)
        return 2
    if args.dump_queries:
        from pipelines.bi_queries import dump_queries

        return dump_queries()
    if args.export:
        from pipelines.bi_export import export_dashboard

        return export_dashboard()
    from pipelines.bi import run

    return run()


def cmd_stop_embedded(_: argparse.Namespace) -> int:
    from pipelines.warehouse.engine import stop_embedded

    stop_embedded()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn, text in (
        ("sync", cmd_sync, "one full sync with every check; non-zero exit on failure"),
        ("checks", cmd_checks, "every check over every campaign; non-zero exit on failure"),
        ("demo", cmd_demo, "simulator + embedded warehouse + two syncs + a summary"),
        ("dev-demo", cmd_dev_demo, "the Dagster UI polling the built-in simulator"),
        ("psql", cmd_psql, "psql on the warehouse"),
        ("replay", cmd_replay, "rebuild the sms tables from raw (no vendor call), then check"),
        ("raw-body", cmd_raw_body, "the bytes of one landed answer, as received"),
        ("stop-embedded", cmd_stop_embedded, "stop the embedded Postgres server"),
        ("bi", cmd_bi, "Superset on the warehouse with the SMS delivery dashboard"),
    ):
        command = sub.add_parser(name, help=text)
        command.set_defaults(fn=fn)
        if name == "raw-body":
            command.add_argument("response_id", type=int, help="raw.vendor_response.response_id")
        if name == "replay":
            command.add_argument(
                "--scope",
                choices=("all", "quarantined"),
                default="all",
                help="all: every fact (default); quarantined: only what was quarantined",
            )
            command.add_argument("--provider", choices=("nixflex", "smsfactor"))
        if name == "bi":
            command.add_argument(
                "--dump-queries",
                action="store_true",
                help="write bench/dashboard_queries.json from the running Superset's queries",
            )
            command.add_argument(
                "--export",
                action="store_true",
                help="write the running Superset's dashboard back to bi/dashboard/",
            )
    args = parser.parse_args(argv)
    if args.command in ("sync", "checks", "replay", "demo"):
        # SIGTERM (a stopped container, `kill`) ends a job as Ctrl-C does, cleanups included.
        # Inside its run, Dagster's handler takes both: the step running is interrupted.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        print(f"\n{args.command} stopped by a signal", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
