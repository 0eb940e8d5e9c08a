"""What `make bi` keeps between runs, and the variables it reads (``BI_HOST``, ``BI_PORT``,
``BI_ADMIN_PASSWORD``; all read here and only by the command line).

What it keeps between runs: under one state directory (``.data/bi`` by default):
Superset's metadata (``superset.db``), its ``secret_key`` and the generated admin password
(each made once, mode 0600, never printed except the admin password), and the stamps that
let a second run skip what is already done (``metadata.stamp``: the Superset lock the
metadata was upgraded with; ``import.stamp``: what was last imported; ``password.pending``:
a start that stopped between setting sms_bi's password and handing it to Superset, so the
next start sets a new one on both sides).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pipelines.warehouse import sqlfiles

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = PROJECT_ROOT / ".data" / "bi"
BI_DIR = PROJECT_ROOT / "bi"
DASHBOARD_DIR = BI_DIR / "dashboard"
LOCK_FILE = BI_DIR / "requirements.lock"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8088


@dataclass(frozen=True)
class BiHome:
    path: Path

    @property
    def metadata_db(self) -> Path:
        return self.path / "superset.db"

    @property
    def secret_key(self) -> Path:
        return self.path / "secret_key"

    @property
    def admin_password_file(self) -> Path:
        return self.path / "admin_password"

    @property
    def metadata_stamp(self) -> Path:
        return self.path / "metadata.stamp"

    @property
    def import_stamp(self) -> Path:
        return self.path / "import.stamp"

    @property
    def password_pending(self) -> Path:
        """Present while a new sms_bi password may be on the role but not yet in Superset."""
        return self.path / "password.pending"


def prepare(path: Path = DEFAULT_HOME) -> BiHome:
    """The state directory (mode 0700) with its secret key made once."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    home = BiHome(path)
    _secret_file(home.secret_key, lambda: secrets.token_urlsafe(48))
    return home


def listen_address() -> tuple[str, int]:
    """Where Superset listens: ``BI_HOST`` (default 127.0.0.1) and ``BI_PORT`` (8088)."""
    return os.environ.get("BI_HOST") or DEFAULT_HOST, int(os.environ.get("BI_PORT") or DEFAULT_PORT)


def admin_password(home: BiHome) -> tuple[str, bool]:
    """The admin's password: ``BI_ADMIN_PASSWORD`` when set, else one generated once and kept
    in the state directory; and whether it came from the environment."""
    given = os.environ.get("BI_ADMIN_PASSWORD")
    if given:
        return given, True
    return _secret_file(home.admin_password_file, lambda: secrets.token_urlsafe(12)), False


def _secret_file(path: Path, make: object) -> str:
    """The file's content, written first (mode 0600 from its creation) when missing."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(make())  # type: ignore[operator]
    path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def digest(*parts: str | bytes) -> str:
    """One sha256 over the parts (each length-prefixed)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def folder_digest(folder: Path) -> str:
    """sha256 over every file of ``folder`` (names and bytes), in a stable order."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return digest(*(item for p in files for item in (str(p.relative_to(folder)), p.read_bytes())))


def metadata_current(home: BiHome) -> bool:
    """Superset's metadata exists and was upgraded with the Superset of bi/requirements.lock."""
    return home.metadata_db.is_file() and _read(home.metadata_stamp) == _lock_digest()


def mark_metadata_current(home: BiHome) -> None:
    home.metadata_db.chmod(0o600)  # users, roles, the encrypted warehouse password
    home.metadata_stamp.write_text(_lock_digest())


def _lock_digest() -> str:
    return digest(LOCK_FILE.read_bytes())


def _read(path: Path) -> str:
    return path.read_text().strip() if path.is_file() else ""


def import_current(home: BiHome, wanted: str) -> bool:
    return _read(home.import_stamp) == wanted


def mark_imported(home: BiHome, done: str) -> None:
    home.import_stamp.write_text(done)


def connection_has_password(home: BiHome, database_name: str) -> bool:
    """Whether Superset keeps a (encrypted) password for the warehouse connection."""
    if not home.metadata_db.is_file():
        return False
    with sqlite3.connect(f"file:{home.metadata_db}?mode=ro", uri=True) as conn:
        try:
            sql = sqlfiles.read("bi/superset_connection_password.sql")
            row = conn.execute(sql, (database_name,)).fetchone()
        except sqlite3.OperationalError:  # no table yet: metadata never upgraded
            return False
    return bool(row and row[0])
