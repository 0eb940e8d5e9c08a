"""A sync killed outright (SIGKILL: ``kill -9``, the OOM killer, a stopped container) never
blocks the next one, and a sync waiting for a busy vendor pool gives up in time, naming the
run that holds it, or stops at once on SIGTERM.

Each sync is ``python -m pipelines.cli sync`` in a process of its own, as ``make sync`` runs
it: DAGSTER_HOME is a directory holding pipelines/local_dagster.yaml (the file the Makefile
copies to .dagster/), the vendors are the simulator served over HTTP from this process with
its clock frozen, the warehouse is the test one. The syncs here take about a minute in all,
so they run on the embedded backend only.
"""

from __future__ import annotations

import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster._core.launcher import WorkerStatus
from dagster._daemon.monitoring.run_monitoring import monitor_started_run
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines.defs.raw_assets import NIXFLEX_POOL, SMSFACTOR_POOL
from pipelines.runs import PID_TAG, reclaim_stale_runs, worker_tags
from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.migrate import ensure_migrated
from tests.conftest import SimulatorHandle
from tests.sync_helpers import (
    assert_mart_matches_vendors,
    nixflex_campaigns,
    rows,
    scalar,
    smsfactor_campaigns,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LOCAL_INSTANCE_YAML = ROOT / "pipelines" / "local_dagster.yaml"
# Each relation a clean load fills, without the columns that hold when this load observed it
# (the pipeline's wall clock, which differs between two loads).
RELATIONS = {
    "sms.campaign_delivery": ("as_of",),
    "sms.dim_campaign": ("first_seen_at", "last_polled_at"),
    "sms.fact_campaign_counters": ("observed_at",),
    "sms.fact_recipient_delivery": ("first_seen_at", "status_changed_at"),
    "sms.fact_recipient_status_change": ("observed_at",),
}
# Slower vendors, so that each kill below lands inside the phase it aims at.
SLOW_VENDORS = [
    {"vendor": "nixflex", "kind": "delay", "seconds": 0.5, "times": 1000, "endpoint": "get"},
    {"vendor": "smsfactor", "kind": "delay", "seconds": 0.5, "times": 1000, "endpoint": "history"},
]
# Where each kill aims: a line of the sync's log, then a random delay (seconds) within that.
KILL_POINTS = [
    ("while Nixflex campaign details are fetched and landed", "to fetch", (0.0, 0.4)),
    ("while SMSFactor is polled", "page(s) read (whole list)", (0.1, 0.5)),
    ("while the answers are loaded", "loading ", (0.0, 0.3)),
]


@pytest.fixture
def warehouse(request: pytest.FixtureRequest, engine: Engine) -> Engine:
    """The test warehouse, embedded backend only (see the module docstring)."""
    if request.node.callspec.params.get("warehouse_url") != "embedded":
        pytest.skip("crash recovery runs on the embedded backend only")
    return engine


def _home(directory: Path) -> Path:
    directory.mkdir()
    shutil.copy(LOCAL_INSTANCE_YAML, directory / "dagster.yaml")
    return directory


@dataclass
class Sync:
    """One ``python -m pipelines.cli sync`` process, its output in ``log``."""

    process: subprocess.Popen
    log: Path
    started: float

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, line: str, seconds: float = 60) -> bool:
        """Whether ``line`` shows in the output before the process ends."""
        deadline = time.monotonic() + seconds
        while line not in self.output():
            if self.process.poll() is not None:
                return line in self.output()
            assert time.monotonic() < deadline, f"no {line!r} in {seconds} s:\n{self.output()}"
            time.sleep(0.02)
        return True

    def kill(self) -> None:
        """SIGKILL to the sync and whatever it started, as a stopped container gets."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, seconds: float) -> int:
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"sync still running after {seconds} s:\n{self.output()}"
            ) from None


def _env(home: Path, warehouse_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DAGSTER_", "SYNC_")) and k not in ("WAREHOUSE_URL",)
    }
    env.update(DAGSTER_HOME=str(home), WAREHOUSE_URL=warehouse_url, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@pytest.fixture
def syncs() -> Iterator[list[Sync]]:
    """Starts syncs (see ``_start``); kills any still running at the end."""
    started: list[Sync] = []
    yield started
    for sync in started:
        if sync.process.poll() is None:
            sync.kill()


def _start(syncs: list[Sync], env: dict[str, str], log: Path) -> Sync:
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sync"],
        cwd=log.parent, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    sync = Sync(process, log, time.monotonic())
    syncs.append(sync)
    return sync


def _runs(home: Path) -> dict[str, dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {r.run_id: r for r in instance.get_runs()}


def _slots(home: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Per pool: (runs holding its slot, runs queued for it)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        infos = [storage.get_concurrency_info(p) for p in storage.get_concurrency_keys()]
    return {
        i.concurrency_key: (
            [s.run_id for s in i.claimed_slots],
            [p.run_id for p in i.pending_steps],
        )
        for i in infos
    }


def _run_of(home: Path, sync: Sync) -> dg.DagsterRun:
    (run,) = [r for r in _runs(home).values() if r.tags.get(PID_TAG) == str(sync.process.pid)]
    return run


def _as_text(value: object) -> str:
    """A value as text, instants in UTC (the two databases may run in different zones)."""
    return str(value.astimezone(UTC) if isinstance(value, datetime) else value)


def _relations(engine: Engine) -> dict[str, list[tuple]]:
    """Every relation of RELATIONS, its rows sorted, the observation-time columns left out."""
    found = {}
    with engine.connect() as conn:
        for relation, observed in RELATIONS.items():
            schema, name = relation.split(".")
            columns = conn.execute(
                text(
                    "select column_name from information_schema.columns where table_schema = "
                    ":schema and table_name = :name order by ordinal_position"
                ),
                {"schema": schema, "name": name},
            ).scalars()
            kept = ", ".join(c for c in columns if c not in observed)
            found[relation] = sorted(
                tuple(map(_as_text, row))
                for row in conn.execute(text(f"select {kept} from {relation}"))
            )
    return found


@pytest.fixture
def reference_url(warehouse_url: str) -> Iterator[str]:
    """A second empty database on the test server, for one clean load to compare with."""
    admin = create_engine(
        make_url(warehouse_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    name = f"sms_reference_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = make_url(warehouse_url).set(database=name).render_as_string(hide_password=False)
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def test_syncs_killed_at_random_moments_never_block_the_next_one_nor_change_the_facts(
    warehouse: Engine,
    warehouse_url: str,
    reference_url: str,
    simulator: SimulatorHandle,
    syncs: list[Sync],
    tmp_path: Path,
) -> None:
    seed = int(time.time())
    rng = random.Random(seed)
    print(f"kill delays drawn with random.Random({seed})")
    httpx.post(f"{simulator.base_url}/_sim/faults", json=SLOW_VENDORS).raise_for_status()
    home = _home(tmp_path / "dagster_home")
    env = _env(home, warehouse_url)
    # Alongside: one clean load of the same (frozen) vendors into a database of its own.
    clean_env = _env(_home(tmp_path / "clean_home"), reference_url)
    clean = _start(syncs, clean_env, tmp_path / "clean.log")

    killed: list[dg.DagsterRun] = []
    for n, (phase, line, (low, high)) in enumerate(KILL_POINTS):
        sync = _start(syncs, env, tmp_path / f"killed_{n}.log")
        assert sync.wait_for(line), f"the sync ended before {phase}:\n{sync.output()}"
        time.sleep(rng.uniform(low, high))
        assert sync.process.poll() is None, f"the sync ended before it was killed {phase}"
        sync.kill()
        run = _run_of(home, sync)
        # What a crash leaves: the run in progress for good (and, in a poll, its pool's slot).
        assert run.status == dg.DagsterRunStatus.STARTED, (phase, run.status)
        if n == 0:
            assert _slots(home)[NIXFLEX_POOL][0] == [run.run_id]
        killed.append(run)

    httpx.delete(f"{simulator.base_url}/_sim/faults").raise_for_status()
    last = _start(syncs, env, tmp_path / "after_the_crashes.log")
    assert last.finish(120) == 0, last.output()
    assert f"Run {killed[-1].run_id} (full_sync) was left in progress" in last.output()
    runs = _runs(home)
    for run in killed:
        assert runs[run.run_id].status == dg.DagsterRunStatus.FAILURE
        assert runs[run.run_id].tags["dagster/failure_reason"] == "UNEXPECTED_TERMINATION"
    assert _slots(home) == {NIXFLEX_POOL: ([], []), SMSFACTOR_POOL: ([], [])}

    # The warehouse is what the clean load gives, and what the vendors serve.
    assert clean.finish(120) == 0, clean.output()
    reference = get_engine(reference_url)
    ensure_migrated(reference)
    assert _relations(warehouse) == _relations(reference)
    assert scalar(warehouse, "select count(*) from sms.fact_recipient_delivery") > 0
    assert_mart_matches_vendors(
        warehouse, nixflex_campaigns(simulator.base_url), smsfactor_campaigns(simulator.base_url)
    )
    statuses = rows(
        warehouse,
        "select load_status, count(*) as n from raw.vendor_response "
        "where duplicate_of is null group by load_status",
    )
    assert {r["load_status"] for r in statuses} == {"loaded"}, statuses


def test_a_sync_waits_for_a_busy_pool_only_as_allowed_naming_its_holder_and_stops_on_sigterm(
    warehouse: Engine,
    warehouse_url: str,
    simulator: SimulatorHandle,
    syncs: list[Sync],
    tmp_path: Path,
) -> None:
    # The holder: a live sync whose Nixflex poll is slow (25 s a request, under the client's
    # 30 s timeout): it holds nixflex_api for about a minute.
    slow = [
        {"vendor": "nixflex", "kind": "delay", "seconds": 25, "endpoint": e, "times": 100}
        for e in ("list", "get")
    ]
    httpx.post(f"{simulator.base_url}/_sim/faults", json=slow).raise_for_status()
    home = _home(tmp_path / "dagster_home")
    holder = _start(syncs, _env(home, warehouse_url), tmp_path / "holder.log")
    deadline = time.monotonic() + 60
    while not (_slots(home).get(NIXFLEX_POOL) or ([], []))[0]:
        assert holder.process.poll() is None, holder.output()
        assert time.monotonic() < deadline, "the holder never claimed nixflex_api"
        time.sleep(0.2)
    (holder_run,) = _slots(home)[NIXFLEX_POOL][0]

    # Two more syncs: one allowed to wait 6 s, one 30 min (stopped by SIGTERM meanwhile).
    bounded = _start(
        syncs, _env(home, warehouse_url, SYNC_POOL_WAIT_MINUTES="0.1"), tmp_path / "bounded.log"
    )
    patient = _start(
        syncs, _env(home, warehouse_url, SYNC_POOL_WAIT_MINUTES="30"), tmp_path / "patient.log"
    )
    assert patient.wait_for(f"Waiting for pool {NIXFLEX_POOL} (up to 30 min), held by run ")
    patient.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    assert patient.finish(10) == 130, patient.output()
    assert time.monotonic() - signalled < 5, "SIGTERM did not stop the waiting sync promptly"
    assert "sync stopped by a signal" in patient.output()

    usage = _wait_with_rusage(bounded, 60)
    assert bounded.process.returncode == 1, bounded.output()
    said = bounded.output()
    assert "Sync not started: full_sync did not start: gave up after waiting 0.1 min " in said
    assert f"(SYNC_POOL_WAIT_MINUTES) for pool {NIXFLEX_POOL}, held by run {holder_run} " in said
    assert "(full_sync, STARTED, started 20" in said
    assert f"its process {holder.process.pid} on " in said and " is still running)" in said
    # It waited asleep: a spinning wait burns a CPU second per second of its 6 s.
    waited = time.monotonic() - bounded.started
    cpu = usage.ru_utime + usage.ru_stime
    print(f"bounded sync: {waited:.1f} s, {cpu:.1f} s of CPU")
    assert cpu < waited - 3, (cpu, waited)

    # Neither waiting sync left a run or a claim behind; the holder still holds its pool.
    assert list(_runs(home)) == [holder_run]
    assert _slots(home)[NIXFLEX_POOL] == ([holder_run], [holder_run])

    # SIGTERM stops the holder too, in its poll (once the requests in flight, 25 s at most,
    # have answered), and its run gives the pool back.
    holder.process.send_signal(signal.SIGTERM)
    assert holder.finish(45) == 1, holder.output()
    assert "interrupted by a signal" in holder.output()
    assert _runs(home)[holder_run].status == dg.DagsterRunStatus.FAILURE
    assert _slots(home)[NIXFLEX_POOL] == ([], [])


def _wait_with_rusage(sync: Sync, seconds: float) -> resource.struct_rusage:
    """The resources (CPU time) the sync used, once it ended; sets its return code."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(sync.process.pid, os.WNOHANG)
        if pid:
            sync.process.returncode = os.waitstatus_to_exitcode(status)
            return usage
        time.sleep(0.1)
    raise AssertionError(f"sync still running after {seconds} s:\n{sync.output()}")


def test_the_local_instance_fails_a_run_whose_process_is_gone_and_frees_its_pool(
    tmp_path: Path,
) -> None:
    """What ``make dev``'s daemon does with the local instance (run monitoring asks its run
    launcher whether each run's process lives), and what every sync does first."""
    ended = subprocess.Popen(["true"])
    ended.wait()  # its pid now names no process
    with dg.DagsterInstance.from_config(str(_home(tmp_path / "home"))) as instance:
        runs = {
            "dead, tagged by make sync": _started_run(instance, {PID_TAG: str(ended.pid)}),
            "dead, from make dev": _started_run(instance, {}, pid=ended.pid),
            "alive, tagged by make sync": _started_run(instance, {}),
            "alive, from make dev": _started_run(instance, {}, pid=os.getpid()),
        }
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(NIXFLEX_POOL)
        dead_holder = runs["dead, tagged by make sync"].run_id
        assert storage.claim_concurrency_slot(NIXFLEX_POOL, dead_holder, "poll").is_claimed

        check = instance.run_launcher.check_run_worker_health
        health = {what: check(run).status for what, run in runs.items()}
        assert health == {
            "dead, tagged by make sync": WorkerStatus.FAILED,
            "dead, from make dev": WorkerStatus.FAILED,
            "alive, tagged by make sync": WorkerStatus.RUNNING,
            "alive, from make dev": WorkerStatus.RUNNING,
        }
        assert f"process {ended.pid} on " in str(check(runs["dead, from make dev"]))

        # The daemon's run monitoring, one pass: the dead runs fail, the live ones go on.
        for run in runs.values():
            record = instance.get_run_record_by_id(run.run_id)
            monitor_started_run(instance, None, record, logging.getLogger(__name__))  # type: ignore[arg-type]
        status = {what: instance.get_run_by_id(r.run_id).status for what, r in runs.items()}  # type: ignore[union-attr]
        assert status == {
            "dead, tagged by make sync": dg.DagsterRunStatus.FAILURE,
            "dead, from make dev": dg.DagsterRunStatus.FAILURE,
            "alive, tagged by make sync": dg.DagsterRunStatus.STARTED,
            "alive, from make dev": dg.DagsterRunStatus.STARTED,
        }

        # A sync does the same at once, and frees the slots that ended runs still hold.
        again = _started_run(instance, {PID_TAG: str(ended.pid)})
        said: list[str] = []
        assert reclaim_stale_runs(instance, said.append) == [again.run_id]
        assert storage.get_concurrency_info(NIXFLEX_POOL).claimed_slots == []
        assert f"Freed the pool slots still held by run {dead_holder} (FAILURE)." in said


def _started_run(
    instance: dg.DagsterInstance, tags: dict[str, str], pid: int | None = None
) -> dg.DagsterRun:
    """A STARTED run: tagged as ``make sync`` tags its runs (``tags`` override the pid), or
    untagged with process ``pid`` in its start event, as a ``make dev`` run worker's."""
    run_tags = {**worker_tags(), **tags} if pid is None else {}
    run = instance.add_run(
        dg.DagsterRun(job_name="full_sync", run_id=str(uuid.uuid4()), tags=run_tags)
    )
    start = dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, "full_sync", pid=pid)
    instance.report_dagster_event(start, run.run_id)
    return instance.get_run_by_id(run.run_id)  # type: ignore[return-value]


def test_make_gives_the_local_instance_the_config_these_tests_use() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "$(DAGSTER_HOME)/dagster.yaml: pipelines/local_dagster.yaml\n" in makefile
    assert "\t@cp $< $@\n" in makefile
