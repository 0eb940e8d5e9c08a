"""What every benchmark needs: a fresh warehouse database, the simulator in its own process
(so its memory is not counted), the machine's description, and peak memory."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines.warehouse.engine import get_engine, resolve_url
from pipelines.warehouse.migrate import ensure_migrated

RESULTS = Path(__file__).parent / "results"


def machine() -> str:
    """This machine, as the README's tables name it."""
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{memory_gib:.0f} GiB RAM, Python {platform.python_version()}"
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's VmHWM, which starts afresh with each program; ``ru_maxrss`` would not do: it
    survives fork and exec, so a contender started by a parent that had prepared the data
    would report the parent's peak as its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextmanager
def warehouse_database(label: str) -> Iterator[Engine]:
    """A new, migrated database on the warehouse server (WAREHOUSE_URL or the embedded one),
    dropped afterwards, so a benchmark never touches the demo's data."""
    server = make_url(resolve_url(os.environ.get("WAREHOUSE_URL")))
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = get_engine(url)
    try:
        ensure_migrated(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


class SimulatorProcess:
    """``python -m pipelines.simulator`` in a child process, driven over HTTP."""

    def __init__(self, *args: str) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.simulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self._proc.kill()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.base_url = line.removeprefix("listening on ")
        self._http = httpx.Client(base_url=self.base_url, timeout=60)

    def calls(self) -> dict[str, int]:
        return dict(self._http.get("/_sim/calls").json()["calls"])

    def max_requests_in_window(self, vendor: str) -> int:
        return int(self._http.get("/_sim/calls").json()["max_requests_in_window"][vendor])

    def advance(self, seconds: float) -> datetime:
        answer = self._http.post("/_sim/clock", json={"advance_seconds": seconds})
        answer.raise_for_status()
        return datetime.fromisoformat(answer.json()["now"].replace("Z", "+00:00"))

    def close(self) -> None:
        self._http.close()
        self._proc.terminate()
        self._proc.wait(timeout=10)

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def calls_between(before: dict[str, int], after: dict[str, int], vendor: str = "") -> int:
    """Requests served between two readings (of one vendor, or all), 429s excluded."""
    return sum(
        n - before.get(k, 0)
        for k, n in after.items()
        if k.startswith(vendor) and not k.endswith("rate_limited")
    )


def write_result(name: str, result: dict[str, object]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
