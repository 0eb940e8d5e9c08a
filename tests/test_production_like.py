"""The deployment as an operator runs it, on this machine: deploy/dagster.yaml as the instance
(Postgres storage, the run queue, per-vendor pools, run retries and monitoring), the pool
limits set the way docs/deployment.md says, `dagster-webserver` and `dagster-daemon run` as
separate processes, the vendor simulator as a separate process, and two `full_sync` runs
launched at once through GraphQL.

It shows that both runs succeed, that the two runs never polled the same vendor at the same
time (each vendor's poll step of one run ended before the other run's began, although the
other run was already waiting), and that the warehouse is exactly what the vendors serve,
with nothing counted twice.

The Postgres server is WAREHOUSE_TEST_URL's when set, else an embedded one made for this
module. Two fresh databases are made on it (Dagster's instance storage, the warehouse) and
dropped at the end, like every process started here, whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from pipelines.defs.raw_assets import NIXFLEX_POOL, SMSFACTOR_POOL
from pipelines.warehouse.engine import get_engine
from tests.conftest import _embedded_base_url
from tests.sync_helpers import (
    STUCK,
    assert_mart_matches_vendors,
    held_in_moderation,
    nixflex_campaigns,
    rows,
    scalar,
    smsfactor_campaigns,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION = "sms_warehouse"
REPOSITORY = "__repository__"
POOL_STEPS = {NIXFLEX_POOL: "raw__nixflex_responses", SMSFACTOR_POOL: "raw__smsfactor_responses"}
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
# Each vendor answers its campaign list 15 s late, twice (once per run): a poll then lasts
# longer than the two runs' start can drift apart on a busy machine, so that without the pool
# limits the two polls would surely overlap (with limit 2 instead of 1, this test fails).
SLOW_VENDOR = [
    {"vendor": "nixflex", "kind": "delay", "seconds": 15, "times": 2, "endpoint": "list"},
    {"vendor": "smsfactor", "kind": "delay", "seconds": 15, "times": 2, "endpoint": "history"},
]


_terminal: list[pytest.CaptureFixture[str]] = []


@pytest.fixture(autouse=True)
def _timings_on_the_terminal(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """The timeline below goes to the terminal as it happens, even without ``-s``."""
    _terminal.append(capsys)
    yield
    _terminal.clear()


def _say(started: float, what: str) -> None:
    line = f"[prod-like {time.monotonic() - started:6.1f}s] {what}"
    if _terminal:
        with _terminal[0].disabled():
            print(line, flush=True)
    else:
        print(line, flush=True)


@dataclass
class Postgres:
    admin: URL  # a database to connect to for create/drop database
    pg_env: dict[str, str]  # DAGSTER_PG_* (and PGHOST for a Unix socket) for deploy/dagster.yaml
    label: str


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Postgres:
    """The server the two databases go on: WAREHOUSE_TEST_URL's, else an embedded one."""
    server = os.environ.get("WAREHOUSE_TEST_URL")
    base = server or _embedded_base_url(tmp_path_factory.mktemp("prod-like-pg") / "data")
    admin = make_url(base).set(drivername="postgresql+psycopg")
    socket_dir = admin.query.get("host")
    pg_env = {
        # An empty host and PGHOST = the socket directory: libpq's way to a Unix socket, as
        # the embedded server listens on nothing else.
        "DAGSTER_PG_HOST": "" if socket_dir else (admin.host or "127.0.0.1"),
        "DAGSTER_PG_PORT": str(admin.port or 5432),
        "DAGSTER_PG_USER": admin.username or "postgres",
        "DAGSTER_PG_PASSWORD": admin.password or "",
    }
    if socket_dir:
        pg_env["PGHOST"] = str(socket_dir)
    return Postgres(admin, pg_env, "WAREHOUSE_TEST_URL's server" if server else "embedded")


@dataclass
class Stack:
    web_url: str
    sim_url: str
    warehouse_url: str
    env: dict[str, str]
    started: float
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(stack: Stack, name: str, command: list[str], cwd: Path) -> subprocess.Popen:
    """A process in a session of its own (so its children end with it), logging to a file."""
    log = (stack.logs / f"{name}.log").open("wb")
    process = subprocess.Popen(
        command, cwd=cwd, env=stack.env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    stack.processes[name] = process
    return process


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (the process and what it spawned), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _graphql(stack: Stack, query: str, variables: dict | None = None) -> dict:
    answer = httpx.post(
        f"{stack.web_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    assert answer.status_code == 200, f"GraphQL {answer.status_code}: {answer.text[:2000]}"
    payload = answer.json()
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


def _wait_for_location(stack: Stack, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    while time.monotonic() < deadline:
        assert stack.processes["webserver"].poll() is None, "dagster-webserver exited early"
        try:
            entries = _graphql(stack, query)["workspaceOrError"]["locationEntries"]
            if [(e["name"], e["loadStatus"]) for e in entries] == [(LOCATION, "LOADED")]:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the webserver did not load {LOCATION} in {seconds} s")


def _cli(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "dagster"), *args], cwd=stack.logs, env=stack.env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"dagster {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def stack(postgres: Postgres, tmp_path: Path) -> Iterator[Stack]:
    started = time.monotonic()
    suffix = uuid.uuid4().hex[:8]
    instance_db, warehouse_db = f"prodlike_dagster_{suffix}", f"prodlike_warehouse_{suffix}"
    admin = create_engine(postgres.admin, isolation_level="AUTOCOMMIT")
    made: list[str] = []
    stack: Stack | None = None
    try:
        with admin.connect() as conn:
            for name in (instance_db, warehouse_db):
                conn.execute(text(f'create database "{name}"'))
                made.append(name)
        warehouse_url = postgres.admin.set(database=warehouse_db).render_as_string(
            hide_password=False
        )
        _say(started, f"databases {instance_db}, {warehouse_db} on {postgres.label}")

        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.yaml").read_text())
        logs = tmp_path / "logs"  # also the processes' working directory: no .env there
        logs.mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("NIXFLEX_", "SMSFACTOR_", "DAGSTER_", "PG"))
            and k not in ("WAREHOUSE_URL", "PHONE_HASH_SALT")
        }
        env.update(postgres.pg_env)
        env.update({"DAGSTER_HOME": str(home), "DAGSTER_PG_DB": instance_db})
        env.update({"WAREHOUSE_URL": warehouse_url, "PYTHONUNBUFFERED": "1"})
        stack = Stack("", "", warehouse_url, env, started, logs)
        _say(started, f"process logs in {logs}")

        simulator = _start(
            stack,
            "simulator",
            [sys.executable, "-m", "pipelines.simulator", "--port", "0", "--frozen",
             "--nixflex-campaigns", "8", "--smsfactor-campaigns", "8"],
            ROOT,
        )  # fmt: skip
        sim_url = _simulator_url(stack, simulator)
        stack.sim_url = sim_url
        from pipelines.simulator import NIXFLEX_DEMO_KEY, SMSFACTOR_DEMO_TOKEN

        env.update(
            {
                "NIXFLEX_BASE_URL": f"{sim_url}/nixflex/v1",
                "NIXFLEX_API_KEY": NIXFLEX_DEMO_KEY,
                "SMSFACTOR_BASE_URL": f"{sim_url}/smsfactor",
                "SMSFACTOR_API_TOKEN": SMSFACTOR_DEMO_TOKEN,
            }
        )
        _say(started, f"simulator on {sim_url}")

        # docs/deployment.md, "5. Pool limits": recorded in the instance database.
        for pool in (NIXFLEX_POOL, SMSFACTOR_POOL):
            _cli(stack, "instance", "concurrency", "set", pool, "1")
        _say(started, "pool limits set")

        port = _free_port()
        stack.web_url = f"http://127.0.0.1:{port}"
        workspace = str(ROOT / "workspace.yaml")
        _start(
            stack,
            "webserver",
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
            logs,
        )
        _wait_for_location(stack)
        _say(started, "dagster-webserver loaded the code location")
        _stop_schedules(stack)
        _start(stack, "daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], logs)
        _say(started, "dagster-daemon started")
        yield stack
    finally:
        if stack is not None:
            for name in ("daemon", "webserver", "simulator"):
                if name in stack.processes:
                    _stop(stack.processes[name])
            if any(p.returncode not in (0, -signal.SIGTERM) for p in stack.processes.values()):
                for log in sorted(stack.logs.glob("*.log")):
                    print(f"--- {log.name} (last lines)\n" + "\n".join(
                        log.read_text(errors="replace").splitlines()[-30:]))  # fmt: skip
        if made:
            get_engine(postgres.admin.set(database=warehouse_db).render_as_string(False)).dispose()
            with admin.connect() as conn:
                for name in made:
                    conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
        _say(started, "processes stopped, databases dropped")


def _simulator_url(stack: Stack, process: subprocess.Popen, seconds: float = 30) -> str:
    log = stack.logs / "simulator.log"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        first = log.read_text().splitlines()[:1]
        if first and first[0].startswith("listening on "):
            return first[0].removeprefix("listening on ").strip()
        time.sleep(0.1)
    raise AssertionError(f"the simulator did not say where it listens in {seconds} s")


def _stop_schedules(stack: Stack) -> None:
    """The schedules are on by default: stopped before the daemon starts, so that no third
    run (the quarter-hour poll) joins the two this test launches."""
    data = _graphql(
        stack,
        """query($s: RepositorySelector!) { schedulesOrError(repositorySelector: $s) {
             __typename
             ... on Schedules { results { name scheduleState { id status } } }
             ... on PythonError { message } } }""",
        {"s": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}},
    )
    assert data["schedulesOrError"]["__typename"] == "Schedules", data
    for schedule in data["schedulesOrError"]["results"]:
        if schedule["scheduleState"]["status"] == "RUNNING":
            stopped = _graphql(
                stack,
                """mutation($id: String!) { stopRunningSchedule(id: $id) { __typename
                     ... on ScheduleStateResult { scheduleState { status } } } }""",
                {"id": schedule["scheduleState"]["id"]},
            )["stopRunningSchedule"]
            assert stopped["scheduleState"]["status"] == "STOPPED", stopped


LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } }
} }"""

RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run {
  runId status creationTime startTime endTime
  stepStats { stepKey status startTime endTime }
} } }"""

EVENTS = """query($id: ID!) { logsForRun(runId: $id, limit: 5000) { ... on EventConnection {
  events {
    __typename
    ... on MessageEvent { message stepKey timestamp }
    ... on AssetCheckEvaluationEvent { evaluation { checkName success severity } }
    ... on ExecutionStepFailureEvent { error { message } }
  }
} } }"""


def _launch_full_sync(stack: Stack) -> str:
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": "full_sync",
        }
    }
    result = _graphql(stack, LAUNCH, {"p": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    # The run coordinator queues every run: the daemon starts it.
    assert result["run"]["status"] in ("QUEUED", "NOT_STARTED"), result
    return result["run"]["runId"]


def _wait_for_runs(stack: Stack, run_ids: list[str], seconds: float = 240) -> dict[str, dict]:
    """Each run's status until both finish. The bound catches a hang, not slowness: here the
    two runs went one after the other, about 75 s each on a 2-core machine (a vendor slowed
    by SLOW_VENDOR, every check a process of its own)."""
    deadline = time.monotonic() + seconds
    seen: dict[str, str] = {}
    while True:
        runs = {i: _graphql(stack, RUN, {"id": i})["runOrError"] for i in run_ids}
        for run_id, run in runs.items():
            if seen.get(run_id) != run["status"]:
                seen[run_id] = run["status"]
                _say(stack.started, f"run {run_id[:8]} {run['status']}")
        if all(r["status"] in FINISHED for r in runs.values()):
            return runs
        assert stack.processes["daemon"].poll() is None, "dagster-daemon exited"
        assert time.monotonic() < deadline, f"runs not finished in {seconds} s: {seen}"
        time.sleep(1)


def test_two_concurrent_full_syncs_share_each_vendor_and_fill_the_warehouse_exactly(
    stack: Stack,
) -> None:
    # The instance is the deployed one: Postgres storage, the queue, the pool limits.
    limits = " ".join(_cli(stack, "instance", "concurrency", "get", "--all").split())
    _say(stack.started, limits)
    for pool in (NIXFLEX_POOL, SMSFACTOR_POOL):
        assert re.search(rf'"{pool}": \d+ / 1 slots', limits), limits
    deployed = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert deployed["concurrency"]["pools"]["default_limit"] == 1

    httpx.post(f"{stack.sim_url}/_sim/faults", json=SLOW_VENDOR, timeout=10).raise_for_status()

    launched = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        run_ids = list(pool.map(lambda _: _launch_full_sync(stack), range(2)))
    _say(stack.started, f"launched {', '.join(r[:8] for r in run_ids)} at once through GraphQL")
    runs = _wait_for_runs(stack, run_ids)
    _say(stack.started, f"both runs finished {time.monotonic() - launched:.1f} s after launch")

    events = {i: _graphql(stack, EVENTS, {"id": i})["logsForRun"]["events"] for i in run_ids}
    failures = {
        i[:8]: [f"{e['stepKey']}: {e['error']['message'][:300]}" for e in ev if e.get("error")]
        for i, ev in events.items()
    }
    assert {r["status"] for r in runs.values()} == {"SUCCESS"}, failures

    # Each vendor was polled by one run at a time: the two poll steps' windows are disjoint,
    # and the run that polled second already existed (it was waiting, queued or for the
    # pool's slot) while the first one polled.
    for pool, step_key in POOL_STEPS.items():
        windows = sorted(
            (step["startTime"], step["endTime"], run_id)
            for run_id, run in runs.items()
            for step in run["stepStats"]
            if step["stepKey"] == step_key
        )
        assert len(windows) == 2 and all(s and e for s, e, _ in windows), windows
        (first_start, first_end, _), (second_start, _, second_run) = windows
        _say(
            stack.started,
            f"{pool}: first poll {first_end - first_start:.1f} s, second began "
            f"{second_start - first_end:.1f} s after it ended "
            f"(its run was created {first_end - runs[second_run]['creationTime']:.1f} s "
            "before the first poll ended)",
        )
        assert first_end <= second_start, f"{pool}: the two runs polled at the same time"
        assert runs[second_run]["creationTime"] < first_end, f"{pool}: no contention to show"

    held = held_in_moderation(stack.sim_url)
    # How each run waited: in the queue (pools at run granularity: the daemon starts a run only
    # when its pools are free) or, at op granularity, at the pool inside the run.
    waits = []
    for run_id in run_ids:
        blocked = [e for e in events[run_id] if "blocked by limit" in (e.get("message") or "")]
        queued_for = runs[run_id]["startTime"] - runs[run_id]["creationTime"]
        waits.append(f"{run_id[:8]} queued {queued_for:.1f} s, {len(blocked)} pool waits")
        checks = [
            e["evaluation"]
            for e in events[run_id]
            if e["__typename"] == "AssetCheckEvaluationEvent"
        ]
        # Every check passed but the stuck one: the simulator holds a campaign in moderation.
        failed = {c["checkName"] for c in checks if not c["success"]}
        assert checks and failed == ({STUCK} if held else set()), failed
    _say(stack.started, "; ".join(waits))

    # The warehouse is what the vendors serve, nothing twice (two syncs of a vendor that did
    # not move: the second one adds nothing).
    engine = get_engine(stack.warehouse_url)
    nixflex = nixflex_campaigns(stack.sim_url)
    smsfactor = smsfactor_campaigns(stack.sim_url)
    assert nixflex and smsfactor
    assert_mart_matches_vendors(engine, nixflex, smsfactor)

    recipients = {(cid, r["phone"]) for cid, doc in nixflex.items() for r in doc["recipients"]}
    assert scalar(engine, "select count(*) from sms.fact_recipient_delivery") == len(recipients)
    assert scalar(
        engine, "select count(distinct (campaign_id, phone)) from sms.fact_recipient_delivery"
    ) == len(recipients)
    # one first sighting per recipient, and no change seen twice
    assert scalar(engine, "select count(*) from sms.fact_recipient_status_change") == len(
        recipients
    )
    assert scalar(engine, "select count(*) from sms.fact_campaign_counters") == len(smsfactor)
    assert scalar(engine, "select count(*) from sms.dim_campaign") == len(nixflex) + len(smsfactor)
    statuses = rows(
        engine,
        "select load_status, count(*) as n from raw.vendor_response "
        "where duplicate_of is null group by load_status",
    )
    assert {r["load_status"] for r in statuses} == {"loaded"}, statuses
    calls = httpx.get(f"{stack.sim_url}/_sim/calls", timeout=10).json()
    _say(stack.started, f"warehouse exact; vendor calls {json.dumps(calls['calls'])}")
