"""Field readers shared by both parsers: strict about meaning, tolerant about spelling.

Each raises ``ItemProblem`` with a message naming the field, so a refused item says why.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.vendors.records import UNKNOWN_FIELD, ItemProblem, Rejected

PARIS = ZoneInfo("Europe/Paris")
_INT = re.compile(r"^[+-]?\d+$")
# PHP's "no date" value, which SMSFactor-style APIs print for unset dates.
_NO_DATE = {"", "0000-00-00 00:00:00", "0000-00-00"}


def text(item: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string field; numbers are accepted and rendered as text (vendors drift). Text that
    is not valid Unicode (a lone surrogate, which JSON's escapes can spell) is refused:
    Postgres could not store it."""
    value = item.get(key)
    if type(value) is str and value:  # the usual case first: this runs once per field
        return value if value.isascii() else _unicode(value, key)
    if value is None or value == "":
        if required:
            raise ItemProblem(f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ItemProblem(f"{key} should be text, got {type(value).__name__}")
    return str(value)


def _unicode(value: str, key: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ItemProblem(f"{key} is not valid Unicode text ({exc.reason})") from exc
    return value


def integer(item: dict[str, Any], key: str) -> int:
    """A counter: an integer, or a string of digits (SMSFactor sends every number as text)."""
    value = item.get(key)
    if isinstance(value, bool):
        raise ItemProblem(f"{key} should be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.match(value.strip()):
        try:
            return int(value.strip())
        except ValueError as exc:  # more digits than Python converts (int_max_str_digits)
            raise ItemProblem(f"{key} is not a plausible counter: {len(value)} digits") from exc
    if value is None:
        raise ItemProblem(f"{key} is missing")
    raise ItemProblem(f"{key} should be an integer, got {value!r}")


def decimal(item: dict[str, Any], key: str) -> Decimal | None:
    """Money or a rate, as Decimal (never float); missing or empty is None."""
    value = item.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ItemProblem(f"{key} should be a number, got {type(value).__name__}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ItemProblem(f"{key} should be a number, got {value!r}") from exc
    if not number.is_finite():
        raise ItemProblem(f"{key} should be a finite number, got {value!r}")
    return number


def utc_timestamp(item: dict[str, Any], key: str) -> datetime | None:
    """Nixflex time: ISO-8601 in UTC with ``Z``; a naive value is read as UTC, as documented."""
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItemProblem(f"{key} should be an ISO-8601 timestamp, got {value!r}")
    try:
        return iso_to_utc(value)
    except ValueError as exc:
        raise ItemProblem(f"{key} should be an ISO-8601 timestamp, got {value[:60]!r}") from exc


def iso_to_utc(value: str) -> datetime:
    """An ISO-8601 string in UTC; naive means UTC (Nixflex's rule). Raises ValueError, also
    for a time that falls outside years 1-9999 once in UTC."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is outside years 1-9999 in UTC") from exc


def paris_timestamp(item: dict[str, Any], key: str) -> datetime | None:
    """SMSFactor time: ``Y-m-d H:i:s`` in Europe/Paris local time, returned in UTC.

    The autumn hour that occurs twice is read as its first occurrence (summer time,
    ``fold=0``); a spring time that does not exist is read with the winter offset, as
    ``zoneinfo`` does, i.e. one hour later on the wall clock. Both are vendor ambiguities
    we cannot resolve from the value alone.
    """
    value = item.get(key)
    if value is None or (isinstance(value, str) and value.strip() in _NO_DATE):
        return None
    if not isinstance(value, str):
        raise ItemProblem(f"{key} should be 'Y-m-d H:i:s', got {value!r}")
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise ItemProblem(f"{key} should be 'Y-m-d H:i:s', got {value!r}") from exc
    try:
        return local.replace(tzinfo=PARIS).astimezone(UTC)
    except OverflowError as exc:
        raise ItemProblem(f"{key} is outside years 1-9999 in UTC, got {value!r}") from exc


def unknown_fields(
    items: list[Any], documented: frozenset[str], campaign_id: str | None, what: str
) -> list[Rejected]:
    """A note (kind ``unknown_field``) naming the fields of ``items`` (objects) that the
    vendor does not document, with how many items carry each; none when there are none."""
    seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, dict):
            for key in item.keys() - documented:
                seen[str(key)] = seen.get(str(key), 0) + 1
    if not seen:
        return []
    listed = ", ".join(f"{name} ({count})" for name, count in sorted(seen.items()))
    reason = f"{what} with fields the vendor does not document: {listed}; loaded without them"
    return [Rejected(UNKNOWN_FIELD, reason, {"fields": sorted(seen)}, campaign_id)]
