"""Run by the launcher (pipelines/bi_superset.py) with .venv-bi's Python, inside Superset:
makes or updates the local admin, then imports bi/dashboard/ (database, datasets, charts,
dashboard: everything overwritten, the files are the source of truth).

It reads one JSON object on stdin (never argv, which other users of the machine can see):
``admin_password``; ``uri``, the warehouse URI with the password masked; ``password``, the
``sms_bi`` password to store (encrypted) in the connection, or null to keep the stored one;
``dashboard_dir``. It prints nothing secret.
"""

import json
import sys
from pathlib import Path

import yaml

ADMIN = "admin"


def main() -> None:
    request = json.load(sys.stdin)
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from flask import g

        g.user = ensure_admin(request["admin_password"])
        import_dashboard(Path(request["dashboard_dir"]), request["uri"], request["password"])
    print("Superset: admin ready, dashboard imported")


def ensure_admin(password: str):
    """The local admin with this password (made on the first run)."""
    from superset import db, security_manager

    user = security_manager.find_user(username=ADMIN)
    if user is None:
        role = security_manager.find_role("Admin")
        user = security_manager.add_user(ADMIN, "Local", "Admin", "admin@localhost", role, password)
        if not user:
            raise SystemExit("could not create Superset's admin user")
    else:
        security_manager.reset_password(user.id, password)
    db.session.commit()
    return security_manager.find_user(username=ADMIN)


def bundle_contents(folder: Path, uri: str) -> tuple[dict[str, str], str]:
    """The import files as Superset reads them from an exported zip, with the database's URI
    set to this install's; and the name of the database file."""
    contents = {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*.yaml"))
    }
    (database_file,) = [name for name in contents if name.startswith("databases/")]
    database = yaml.safe_load(contents[database_file])
    database["sqlalchemy_uri"] = uri
    contents[database_file] = yaml.safe_dump(database, sort_keys=False)
    metadata = yaml.safe_load(contents["metadata.yaml"])
    metadata.pop("type", None)  # an exported dashboard says "Dashboard"; imported as assets
    contents["metadata.yaml"] = yaml.safe_dump(metadata, sort_keys=False)
    return contents, database_file


def import_dashboard(folder: Path, uri: str, password: str | None) -> None:
    from superset.commands.importers.v1.assets import ImportAssetsCommand

    contents, database_file = bundle_contents(folder, uri)
    passwords = {database_file: password} if password else {}
    ImportAssetsCommand(contents, passwords=passwords).run()


if __name__ == "__main__":
    main()
