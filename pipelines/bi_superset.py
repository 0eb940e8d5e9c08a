"""Apache Superset, run from its own virtual environment (.venv-bi, pinned by
bi/requirements.lock; `make bi` installs it): its environment, the upgrade of its metadata,
the setup (admin, dashboard import) and the web server (gunicorn on 127.0.0.1 by default).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import IO

from pipelines.bi_state import BI_DIR, DASHBOARD_DIR, PROJECT_ROOT, BiHome

BI_VENV = PROJECT_ROOT / ".venv-bi"
ADMIN = "admin"  # the local admin's login (bi/superset_setup.py makes it)


class SupersetFailed(RuntimeError):
    """A Superset command failed; the message says which (its own output went to the console)."""


def superset_env(home: BiHome) -> dict[str, str]:
    """The environment of every Superset process: this project's config and state, UTC."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "FLASK_"))}
    env.update(
        SUPERSET_CONFIG_PATH=str(BI_DIR / "superset_config.py"),
        SMS_BI_HOME=str(home.path),
        FLASK_APP="superset.app:create_app()",
        TZ="UTC",
        PYTHONUNBUFFERED="1",
    )
    for name in ("WAREHOUSE_URL", "BI_ADMIN_PASSWORD", "PGPASSWORD"):
        env.pop(name, None)  # Superset needs none of these: it is given what it needs
    return env


def _run(
    home: BiHome, args: list[str], what: str, out: IO | None, stdin: str | None = None
) -> None:
    """One Superset command; its output to ``out`` (None: this process's own)."""
    streams = {"stdout": out, "stderr": subprocess.STDOUT} if out else {}
    done = subprocess.run(
        args, env=superset_env(home), cwd=home.path, input=stdin, text=True, check=False, **streams
    )
    if done.returncode != 0:
        raise SupersetFailed(f"{what} failed (exit status {done.returncode}); see above")


def installed() -> bool:
    return (BI_VENV / "bin" / "superset").is_file()


def upgrade_metadata(home: BiHome, out: IO | None = None) -> None:
    """Superset's metadata schema, roles and permissions (first run, or a new Superset)."""
    superset = str(BI_VENV / "bin" / "superset")
    _run(home, [superset, "db", "upgrade"], "superset db upgrade", out)
    _run(home, [superset, "init"], "superset init", out)


def setup(
    home: BiHome, admin_password: str, uri: str, password: str | None, out: IO | None = None
) -> None:
    """The admin and the dashboard import (bi/superset_setup.py); secrets go over stdin."""
    request = {
        "admin_password": admin_password,
        "uri": uri,
        "password": password,
        "dashboard_dir": str(DASHBOARD_DIR),
    }
    python = str(BI_VENV / "bin" / "python")
    script = str(BI_DIR / "superset_setup.py")
    _run(home, [python, script], "importing the dashboard", out, stdin=json.dumps(request))


def serve(home: BiHome, host: str, port: int, **popen: object) -> subprocess.Popen:
    """gunicorn serving Superset on host:port (a child process; the caller stops it)."""
    command = [
        str(BI_VENV / "bin" / "gunicorn"),
        "--bind",
        f"{host}:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "0",
        "--no-control-socket",  # none in ~/.gunicorn: two instances may run side by side
        "superset.app:create_app()",
    ]
    return subprocess.Popen(command, env=superset_env(home), cwd=home.path, **popen)  # type: ignore[call-overload]
