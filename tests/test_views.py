"""Views come from sql/views/, one file each: a warehouse whose views the migrations made
(up to 0.7.0) ends with the files' views, and a changed file is applied at the next migrate
(an unchanged set is not)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipelines.warehouse.engine import get_engine
from pipelines.warehouse.migrate import MIGRATIONS_DIR, VIEWS_DIR, discover_views, migrate
from tests.sync_helpers import rows, scalar

SCHEMAS = ("sms", "raw", "meta", "partitions")

_VIEWS = """
select c.oid::regclass::text as relation
from pg_class as c
join pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('v', 'm') and n.nspname = any(:schemas)
order by 1
"""

_VIEW = """
select
    pg_get_viewdef(c.oid) as definition,
    obj_description(c.oid, 'pg_class') as comment,
    c.relacl::text as grants,
    (
        select array_agg(
            a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ': '
            || coalesce(col_description(c.oid, a.attnum), '(none)') order by a.attnum
        )
        from pg_attribute as a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    ) as columns
from pg_class as c
where c.oid = cast(:relation as regclass)
"""


def views_of(engine: Engine) -> dict[str, dict[str, object]]:
    """Every view of the warehouse's schemas: its definition, comments, columns and grants."""
    relations = [r["relation"] for r in rows(engine, _VIEWS, schemas=list(SCHEMAS))]
    return {r: rows(engine, _VIEW, relation=r)[0] for r in relations}


@pytest.fixture
def new_database(warehouse_url: str) -> Iterator[Callable[[], Engine]]:
    """Makes empty databases on ``warehouse_url``'s server, dropped after the test."""
    server = make_url(warehouse_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    made: list[tuple[str, Engine]] = []

    def make() -> Engine:
        name = f"sms_views_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
        made.append((name, get_engine(server.set(database=name).render_as_string(False))))
        return made[-1][1]

    yield make
    for name, engine in made:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def copy_of(directory: Path, into: Path) -> Path:
    into.mkdir()
    for path in directory.glob("*.sql"):
        shutil.copy(path, into / path.name)
    return into


def test_every_view_has_exactly_one_file(engine: Engine) -> None:
    files = [v.relation for v in discover_views()]
    assert sorted(files) == sorted(set(files))
    assert sorted(files) == sorted(views_of(engine))
    recorded = rows(engine, "select name from meta.view_definition order by name")
    assert [r["name"] for r in recorded] == [v.name for v in discover_views()]


def test_a_warehouse_the_migrations_built_ends_with_the_files_views(
    new_database: Callable[[], Engine], tmp_path: Path
) -> None:
    """Up to 0.7.0 the migrations made the views; a warehouse built that way gets exactly the
    views of sql/views/ at its next migrate, as a new one does."""
    upgraded = new_database()
    migrate(upgraded, copy_of(MIGRATIONS_DIR, tmp_path / "migrations"))  # no views
    assert scalar(upgraded, "select count(*) from meta.view_definition") == 0
    made_by_migrations = views_of(upgraded)
    migrate(upgraded)
    fresh = new_database()
    migrate(fresh)
    assert scalar(fresh, "select count(*) from meta.view_definition") == len(discover_views())
    assert views_of(upgraded) == views_of(fresh)
    # Views no migration ever made (the marts) are applied after every view one did.
    files = discover_views()
    only_in_files = [v for v in files if v.relation not in made_by_migrations]
    assert set(views_of(fresh)) - set(made_by_migrations) == {v.relation for v in only_in_files}
    last_of_migrations = max(i for i, v in enumerate(files) if v.relation in made_by_migrations)
    assert all(files.index(v) > last_of_migrations for v in only_in_files)


def _applied_at(engine: Engine) -> dict[str, object]:
    recorded = rows(engine, "select name, applied_at from meta.view_definition")
    return {r["name"]: r["applied_at"] for r in recorded}


def test_a_changed_view_file_is_applied_and_an_unchanged_set_is_not(
    new_database: Callable[[], Engine], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    migrations = copy_of(MIGRATIONS_DIR, tmp_path / "migrations")
    views = copy_of(VIEWS_DIR, tmp_path / "views")
    engine = new_database()
    migrate(engine, migrations, views)
    before, applied_at = views_of(engine), _applied_at(engine)

    caplog.clear()
    with caplog.at_level("INFO", logger="pipelines.warehouse.migrate"):
        assert migrate(engine, migrations, views) == []
    assert "applying views" not in caplog.text
    assert _applied_at(engine) == applied_at

    # A new comment: the views are replaced in place.
    failures = views / "50_sms.failure_reasons.sql"
    failures.write_text(
        failures.read_text().replace("'Failed messages with this reason.'", "'Messages.'")
    )
    migrate(engine, migrations, views)
    assert scalar(engine, "select col_description('sms.failure_reasons'::regclass, 5)") == (
        "Messages."
    )

    # One column fewer in a view another view reads: both are dropped and made again.
    delivery = views / "30_sms.campaign_delivery.sql"
    sql = delivery.read_text()
    sql = sql.replace("    sender,\n    day\nfrom counted;", "    sender\nfrom counted;")
    sql = "\n".join(line for line in sql.splitlines() if "campaign_delivery.day is" not in line)
    delivery.write_text(sql + "\n")
    with caplog.at_level("INFO", logger="pipelines.warehouse.migrate"):
        migrate(engine, migrations, views)
    assert "dropping and creating every view" in caplog.text
    after = views_of(engine)
    assert (
        after["sms.campaign_delivery"]["columns"] == before["sms.campaign_delivery"]["columns"][:-1]
    )
    for relation in before:
        assert after[relation]["grants"] == before[relation]["grants"], relation
        assert after[relation]["comment"] == before[relation]["comment"], relation
    unchanged = set(before) - {"sms.campaign_delivery", "sms.failure_reasons"}
    assert {r: after[r] for r in unchanged} == {r: before[r] for r in unchanged}
    assert _applied_at(engine)["30_sms.campaign_delivery"] > applied_at["30_sms.campaign_delivery"]
