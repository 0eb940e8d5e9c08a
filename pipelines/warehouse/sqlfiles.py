"""Read the SQL that lives in ``sql/`` (one object or one check per file)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


@cache
def read(relative: str) -> str:
    """The text of ``sql/<relative>``; a missing file is a packaging bug, said plainly."""
    path = SQL_DIR / relative
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} is missing (is the checkout complete?)")
    return path.read_text(encoding="utf-8")
