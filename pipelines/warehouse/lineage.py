"""Which relations each view of ``sql/views/`` reads, from its file: the Dagster lineage of
the analyst-facing views (``pipelines.defs.view_assets``) comes from here, with no database
call, so the asset graph is known before any warehouse exists."""

from __future__ import annotations

import re

from pipelines.warehouse.migrate import ViewDefinition

_COMMENT = re.compile(r"--[^\n]*")
_STRING = re.compile(r"'(?:[^']|'')*'")
_RELATION = re.compile(r"\b(sms|raw|meta)\.([a-z_][a-z0-9_]*)\b")


def _definition(view: ViewDefinition) -> str:
    """The view's CREATE statement: the file without comments and string literals, up to
    its first COMMENT ON (what follows is descriptions and grants)."""
    body = _COMMENT.sub("", view.sql)
    body = body.split("\ncomment on ", 1)[0]
    return _STRING.sub("''", body)


def reads(view: ViewDefinition) -> list[str]:
    """The relations (``schema.name``) the view's definition names, other than itself, sorted."""
    found = {f"{schema}.{name}" for schema, name in _RELATION.findall(_definition(view))}
    found.discard(view.relation)
    return sorted(found)
