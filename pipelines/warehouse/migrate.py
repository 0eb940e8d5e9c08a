"""Apply ``sql/migrations/NNNN_name.sql`` in order, once each, recorded in a table.

The record is ``meta.schema_migration``.

Pending migrations run in one transaction with their records (Postgres DDL is
transactional: all or nothing), under an advisory lock, so two processes starting at once
(``make dev`` and ``make sync``) cannot both apply them. A migration edited after it was
applied is refused: write a new one instead.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import Engine, text

from pipelines.warehouse.sqlfiles import SQL_DIR

log = logging.getLogger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_.]+\.sql$")
_LOCK_KEY = 0x5_4D_53_57  # "SMSW": one advisory lock id for migrations


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file, in version order; a misnamed file is an error, not a skip."""
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 0001_name.sql: {path.name}")
        migrations.append(Migration(match.group(1), path.stem, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version number in {directory}")
    return migrations


_BOOTSTRAP = """
create schema if not exists meta;
create table if not exists meta.schema_migration (
    version    text primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now()
);
"""

_applied_engines: set[int] = set()


def _say(notice: psycopg.errors.Diagnostic) -> None:
    log.warning("migration: %s", notice.message_primary)


def _pending(engine: Engine, migrations: list[Migration]) -> bool:
    """Whether any migration is not recorded, or recorded with other contents (read only)."""
    with engine.connect() as conn:
        if conn.execute(text("select to_regclass('meta.schema_migration')")).scalar() is None:
            return True
        done = dict(conn.execute(text("select version, checksum from meta.schema_migration")).all())
    return any(done.get(m.version) != m.checksum for m in migrations)


def migrate(engine: Engine, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Bring the schema up to date; returns the names of the migrations applied now."""
    migrations = discover(directory)
    applied_now: list[str] = []
    if not _pending(engine, migrations):
        return applied_now  # up to date: no DDL at all, so a role without it may run here
    with engine.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        conn.execute(text(_BOOTSTRAP))
        done = dict(conn.execute(text("select version, checksum from meta.schema_migration")).all())
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.name} was changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            log.info("applying migration %s", migration.name)
            # The driver connection runs a multi-statement script without binding parameters;
            # what a migration says (RAISE NOTICE: e.g. roles it may not create) is logged.
            driver = conn.connection.driver_connection
            driver.add_notice_handler(_say)
            try:
                driver.execute(migration.sql)
            finally:
                driver.remove_notice_handler(_say)
            conn.execute(
                text(
                    "insert into meta.schema_migration (version, name, checksum) "
                    "values (:v, :n, :c)"
                ),
                {"v": migration.version, "n": migration.name, "c": migration.checksum},
            )
            applied_now.append(migration.name)
    return applied_now


def ensure_migrated(engine: Engine) -> None:
    """``migrate`` once per engine per process (cheap to call before every use)."""
    if id(engine) in _applied_engines:
        return
    migrate(engine)
    _applied_engines.add(id(engine))
