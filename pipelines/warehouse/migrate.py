"""Bring the warehouse's schema up to date: tables by migrations, views by their definitions.

``sql/migrations/NNNN_name.sql`` change tables; they are applied in order, once each,
recorded in ``meta.schema_migration``. A migration edited after it was applied is refused:
write a new one instead.

``sql/views/NN_schema.view.sql`` hold each view's current definition (with its comments and
grants), applied after the migrations in file-name order (a view after the views it reads).
They are applied again only when a file is new or changed (checksums in
``meta.view_definition``): ``create or replace view`` where the columns allow it; when a
view's columns changed in a way Postgres cannot replace, every view of ``sql/views/`` is
dropped (dependants first) and created again from its file.

Both run in one transaction with their records (Postgres DDL is transactional: all or
nothing), under an advisory lock, so two processes starting at once (``make dev`` and
``make sync``) cannot both apply them. An up-to-date warehouse costs a few reads of the
two records and no DDL.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import Connection, Engine, text

from pipelines.warehouse import sqlfiles
from pipelines.warehouse.sqlfiles import SQL_DIR

log = logging.getLogger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"
VIEWS_DIR = SQL_DIR / "views"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_.]+\.sql$")
_VIEW_NAME = re.compile(r"^\d{2}_([a-z0-9_]+\.[a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5_4D_53_57  # "SMSW": one advisory lock id for migrations
# What `create or replace view` raises when the new columns cannot replace the old ones.
_COLUMNS_CHANGED = (
    psycopg.errors.InvalidTableDefinition,
    psycopg.errors.DependentObjectsStillExist,
)


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)


@dataclass(frozen=True)
class ViewDefinition:
    """One file of ``sql/views/``: ``name`` is its stem, ``relation`` the view it defines."""

    name: str
    relation: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)


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


def discover_views(directory: Path | None = VIEWS_DIR) -> list[ViewDefinition]:
    """Every view file, in the order they apply; a misnamed file is an error, not a skip."""
    views: list[ViewDefinition] = []
    for path in sorted(directory.glob("*.sql")) if directory else []:
        match = _VIEW_NAME.match(path.name)
        if not match:
            raise ValueError(f"view file name must look like 10_sms.view_name.sql: {path.name}")
        views.append(ViewDefinition(path.stem, match.group(1), path.read_text(encoding="utf-8")))
    relations = [v.relation for v in views]
    if len(set(relations)) != len(relations):
        raise ValueError(f"two files define the same view in {directory}")
    return views


_applied_engines: set[int] = set()


def _say(notice: psycopg.errors.Diagnostic) -> None:
    log.warning("migration: %s", notice.message_primary)


def _run_script(conn: Connection, sql: str) -> None:
    """Run a multi-statement script in ``conn``'s transaction; its NOTICEs are logged."""
    # The driver connection runs the script without binding parameters; what a script says
    # (RAISE NOTICE: e.g. roles it may not create) is logged.
    driver = conn.connection.driver_connection
    driver.add_notice_handler(_say)
    try:
        driver.execute(sql)
    finally:
        driver.remove_notice_handler(_say)


def _views_changed(conn: Connection, views: list[ViewDefinition]) -> bool:
    """Whether any view file is not recorded, or recorded with other contents (read only)."""
    if not views:
        return False
    if conn.execute(text("select to_regclass('meta.view_definition')")).scalar() is None:
        return True
    done = dict(conn.execute(text("select name, checksum from meta.view_definition")).all())
    return any(done.get(v.name) != v.checksum for v in views)


def _pending(engine: Engine, migrations: list[Migration], views: list[ViewDefinition]) -> bool:
    """Whether any migration or view file is new or changed (read only)."""
    with engine.connect() as conn:
        if conn.execute(text("select to_regclass('meta.schema_migration')")).scalar() is None:
            return True
        done = dict(conn.execute(text("select version, checksum from meta.schema_migration")).all())
        if any(done.get(m.version) != m.checksum for m in migrations):
            return True
        return _views_changed(conn, views)


def _apply_migrations(conn: Connection, migrations: list[Migration]) -> list[str]:
    """Apply the migrations not recorded yet (under the caller's lock); their names."""
    applied_now: list[str] = []
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
        _run_script(conn, migration.sql)
        conn.execute(
            text(sqlfiles.read("migrate/record_migration.sql")),
            {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
        )
        applied_now.append(migration.name)
    return applied_now


def _apply_views(conn: Connection, views: list[ViewDefinition]) -> None:
    """Apply every view file when one is new or changed (under the caller's lock)."""
    if not _views_changed(conn, views):
        return
    log.info("applying views %s", ", ".join(v.relation for v in views))
    try:
        with conn.begin_nested():
            for view in views:
                _run_script(conn, view.sql)
    except _COLUMNS_CHANGED as error:
        log.info("a view's columns changed (%s): dropping and creating every view", error)
        for view in reversed(views):
            conn.execute(text(f"drop view if exists {view.relation}"))
        for view in views:
            _run_script(conn, view.sql)
    for view in views:
        conn.execute(
            text(sqlfiles.read("migrate/record_view_definition.sql")),
            {"name": view.name, "checksum": view.checksum},
        )


def migrate(
    engine: Engine, directory: Path = MIGRATIONS_DIR, views: Path | None = None
) -> list[str]:
    """Bring the schema up to date; returns the names of the migrations applied now.

    ``views`` is the directory of view files applied after the migrations: by default
    ``sql/views/`` when the migrations are ``sql/migrations/``, and none with another
    migrations directory (such as a copy of the first migrations only).
    """
    if views is None and directory == MIGRATIONS_DIR:
        views = VIEWS_DIR
    migrations, view_files = discover(directory), discover_views(views)
    if not _pending(engine, migrations, view_files):
        return []  # up to date: no DDL at all, so a role without it may run here
    with engine.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        _run_script(conn, sqlfiles.read("migrate/bootstrap.sql"))
        applied_now = _apply_migrations(conn, migrations)
        _apply_views(conn, view_files)
    return applied_now


def ensure_migrated(engine: Engine) -> None:
    """``migrate`` once per engine per process (cheap to call before every use)."""
    if id(engine) in _applied_engines:
        return
    migrate(engine)
    _applied_engines.add(id(engine))
