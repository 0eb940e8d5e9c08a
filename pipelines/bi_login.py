"""The warehouse login Superset reads with, ``sms_bi``: granted ``sms_analyst`` (reads ``sms``,
not ``raw`` or ``meta``), ``default_transaction_read_only`` on, time zone UTC, never the owner.

Its password is generated here, set on the role as a SCRAM verifier (the password itself
never reaches the server) and handed to Superset, which keeps it encrypted in its connection;
it is never printed, logged or written anywhere else. A later start reuses it, unless the
role is gone (e.g. after ``make clean`` with a server of your own) or Superset has lost it:
then a new one is set on both sides.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from pipelines.warehouse import sqlfiles

LOGIN = "sms_bi"


def ensure_login(engine: Engine, superset_has_password: bool) -> str | None:
    """Make or repair ``sms_bi``; a new password when one must be set, else None."""
    with engine.begin() as conn:
        existed = bool(conn.execute(text(sqlfiles.read("bi/sms_bi_exists.sql"))).scalar_one())
        conn.execute(text(sqlfiles.read("bi/sms_bi_login.sql")))
    if existed and superset_has_password:
        return None
    password = secrets.token_urlsafe(32)
    set_password(engine, password)
    return password


def set_password(engine: Engine, password: str) -> None:
    with engine.begin() as conn:
        pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
        verifier = pgconn.encrypt_password(password.encode(), LOGIN.encode(), b"scram-sha-256")
        conn.execute(text(sqlfiles.read("bi/sms_bi_verifier.sql")), {"verifier": verifier.decode()})
        conn.execute(text(sqlfiles.read("bi/sms_bi_password.sql")))


def superset_uri(owner_url: URL) -> str:
    """The warehouse as Superset (psycopg2) reaches it with ``sms_bi``: the owner's host,
    port, socket and database; the password masked as Superset's import files spell it (the
    launcher hands the real one over separately)."""
    url = owner_url.set(drivername="postgresql+psycopg2", username=LOGIN, password="XXXXXXXXXX")
    return url.render_as_string(hide_password=False)
