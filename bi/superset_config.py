"""Superset's configuration for `make bi` (SUPERSET_CONFIG_PATH points here).

Everything that is per install lives in the state directory ``SMS_BI_HOME`` (default
``.data/bi`` in the repository), made by the launcher (pipelines/bi_state.py):
``secret_key`` (generated once, mode 0600; it encrypts the warehouse password Superset
keeps) and ``superset.db`` (Superset's metadata, SQLite). Neither is in the repository.
"""

import os
from pathlib import Path

_HOME = Path(os.environ.get("SMS_BI_HOME") or Path(__file__).resolve().parents[1] / ".data" / "bi")
_KEY_FILE = _HOME / "secret_key"
if not _KEY_FILE.is_file():
    raise RuntimeError(f"{_KEY_FILE} is missing: start Superset with `make bi`")

SECRET_KEY = _KEY_FILE.read_text(encoding="utf-8").strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}"
SQLALCHEMY_TRACK_MODIFICATIONS = False

# "Last 7 days" is the last seven UTC days including today (Superset's default ends at
# today's midnight, which would hide today's campaigns). The server runs in UTC (TZ).
DEFAULT_RELATIVE_START_TIME = "tomorrow"
DEFAULT_RELATIVE_END_TIME = "tomorrow"

# A local tool: no usage analytics sent out, no example data, no rate-limit storage warning.
SCARF_ANALYTICS = False
RATELIMIT_STORAGE_URI = "memory://"
# Nobody uploads files into the warehouse: the login Superset uses cannot write anyway.
UPLOAD_FOLDER = str(_HOME / "uploads") + "/"
FEATURE_FLAGS = {"DASHBOARD_RBAC": False, "ENABLE_TEMPLATE_PROCESSING": False}

# The warehouse connection shows only the schema analysts read (SQL Lab, dataset pickers):
# the other schemas' names would show otherwise, though sms_bi can read nothing in them.
EXPOSED_SCHEMAS = {"sms"}


def FLASK_APP_MUTATOR(app):  # Superset calls it once the app is made
    from superset.db_engine_specs.postgres import PostgresEngineSpec

    every_schema = PostgresEngineSpec.get_schema_names.__func__

    def exposed(cls, inspector):
        return {name for name in every_schema(cls, inspector) if name in EXPOSED_SCHEMAS}

    PostgresEngineSpec.get_schema_names = classmethod(exposed)
