"""`make bi`: Apache Superset on the warehouse, with the dashboard "SMS delivery" from
bi/dashboard/, on http://127.0.0.1:8088 (``BI_HOST``, ``BI_PORT``).

The first run makes the state directory (.data/bi: secret key, Superset's metadata, the
admin password unless ``BI_ADMIN_PASSWORD`` gives it), upgrades Superset's metadata, makes
the read-only login ``sms_bi`` and imports the dashboard; a later run does only what changed
(metadata upgrade when bi/requirements.lock changed, import when bi/dashboard/ or the
warehouse changed) and is up in seconds. Ctrl-C stops the server.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from pipelines import bi_state
from pipelines.bi_login import ensure_login, superset_uri
from pipelines.bi_state import DASHBOARD_DIR, BiHome
from pipelines.bi_superset import serve, setup, upgrade_metadata

DASHBOARD_SLUG = "sms-delivery"


@dataclass(frozen=True)
class Ready:
    """A prepared install: its state and the admin's login."""

    home: BiHome
    admin_password: str
    admin_password_from_env: bool


def database_name() -> str:
    """The Superset connection's name, as bi/dashboard/databases/ spells it (a top-level
    ``database_name:`` line, as Superset writes it)."""
    (path,) = sorted((DASHBOARD_DIR / "databases").glob("*.yaml"))
    found = re.search(r"^database_name: *(.+?) *$", path.read_text(encoding="utf-8"), re.M)
    if not found:
        raise ValueError(f"{path} names no database_name")
    return found.group(1).strip("'\"")


def prepare(home_path: Path, warehouse_url: str | None, out: IO | None = None) -> Ready:
    """Everything before serving: state, metadata, login, admin, dashboard import; what it
    and Superset's commands say goes to ``out`` (None: this process's output)."""
    from pipelines.warehouse.engine import reachable_engine
    from pipelines.warehouse.migrate import ensure_migrated

    home = bi_state.prepare(home_path)
    admin_password, from_env = bi_state.admin_password(home)
    engine = reachable_engine(warehouse_url)
    ensure_migrated(engine)
    if not bi_state.metadata_current(home):
        say("Preparing Superset's metadata (first run: about a minute)...", out)
        upgrade_metadata(home, out)
        bi_state.mark_imported(home, "")  # a new metadata database has no dashboard yet
        bi_state.mark_metadata_current(home)
    pending = home.password_pending
    has_password = bi_state.connection_has_password(home, database_name())
    has_password = has_password and not pending.exists()
    pending.touch()  # until Superset has the password the role may now have
    password = ensure_login(engine, has_password)
    uri = superset_uri(engine.url)
    wanted = bi_state.digest(bi_state.folder_digest(DASHBOARD_DIR), uri, admin_password)
    if password or not bi_state.import_current(home, wanted):
        say("Importing the dashboard from bi/dashboard/ ...", out)
        setup(home, admin_password, uri, password, out)
        bi_state.mark_imported(home, wanted)
    pending.unlink()
    return Ready(home, admin_password, from_env)


def say(line: str, out: IO | None) -> None:
    print(line, file=out or sys.stdout, flush=True)


def wait_until_up(base_url: str, server: subprocess.Popen, seconds: float = 180) -> None:
    """Until Superset answers its health check (``RuntimeError`` if it exits or times out)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Superset exited with status {server.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"Superset did not answer on {base_url} within {seconds:.0f} s")


def announce(ready: Ready, base_url: str, out: IO | None = None) -> None:
    """The URL and the admin's login (the password itself unless it came from the environment)."""
    password = "(the password in BI_ADMIN_PASSWORD)" if ready.admin_password_from_env else None
    say(f"\nSuperset is up: {base_url}/superset/dashboard/{DASHBOARD_SLUG}/", out)
    say(f"  log in as admin, password {password or ready.admin_password}", out)
    say("  Ctrl-C stops it.", out)


def stop(server: subprocess.Popen, interrupted: bool = False) -> None:
    """Stop gunicorn: after Ctrl-C (SIGINT, its quick shutdown) let it finish; else SIGTERM;
    SIGKILL after 20 s more."""
    try:
        server.wait(timeout=10 if interrupted else 0)
    except subprocess.TimeoutExpired:
        server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run(home_path: Path = bi_state.DEFAULT_HOME) -> int:
    """`make bi`: prepare, serve until Ctrl-C (or SIGTERM), stop cleanly."""
    host, port = bi_state.listen_address()
    ready = prepare(home_path, os.environ.get("WAREHOUSE_URL") or None)
    server = serve(ready.home, host, port)
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        wait_until_up(base_url, server)
        announce(ready, base_url)
        return server.wait()
    except KeyboardInterrupt:
        print("\nStopping Superset...", file=sys.stderr)
        if server.poll() is None:
            server.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal does (SIGTERM: not)
        stop(server, interrupted=True)
        return 0
    finally:
        stop(server)
