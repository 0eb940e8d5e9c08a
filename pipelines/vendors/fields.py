"""Field readers shared by both parsers: strict about meaning, tolerant about spelling.

Each raises ``ItemProblem`` with a message naming the field, so a refused item says why.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pipelines.vendors.records import INVALID_ITEM, UNKNOWN_FIELD, ItemProblem, Rejected

PARIS = ZoneInfo("Europe/Paris")
_INT = re.compile(r"^[+-]?\d+$")
# Numbers as a French locale prints them (SMSFactor is French): thousands grouped by three
# and separated by a space, a no-break space (U+00A0) or a narrow or thin one (U+202F,
# U+2009), and a decimal comma. "1,234" is therefore 1.234, never 1234.
_GROUP_SPACES = " \u00a0\u202f\u2009"
_GROUPED = rf"\d{{1,3}}(?:[{_GROUP_SPACES}]\d{{3}})+"
_GROUPED_INT = re.compile(rf"^[+-]?{_GROUPED}$")
_LOCALE_NUMBER = re.compile(rf"^([+-]?(?:{_GROUPED}|\d+))(?:[.,](\d+))?$")
# PHP's "no date" value, which SMSFactor-style APIs print for unset dates.
_NO_DATE = {"", "0000-00-00 00:00:00", "0000-00-00"}
# Keys the warehouse indexes (campaign ids, phones): a btree entry holds ~2.7 kB, and a
# longer key would stop the load. No real phone or campaign id comes near this.
MAX_KEY = 255
# Counters are Postgres ``integer`` columns.
_COUNTER_MIN, _COUNTER_MAX = -(2**31), 2**31 - 1
# Money and rates: Postgres ``numeric`` holds far more, but nothing plausible is beyond this.
_MAX_EXPONENT = 1000


class ShortRepr(reprlib.Repr):
    """``repr`` cut short: at most ``levels`` levels deep (a value nested a thousand deep
    would make ``repr`` raise RecursionError), ``width`` characters per text or number and
    ``items`` entries per list or object."""

    def __init__(self, levels: int, width: int, items: int) -> None:
        super().__init__()
        self.maxlevel = levels
        self.maxstring = self.maxother = self.maxlong = width
        self.maxlist = self.maxtuple = self.maxdict = items

    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # more digits than Python converts (int_max_str_digits)
            return f"<an integer of {x.bit_length()} bits>"


shown = ShortRepr(levels=3, width=60, items=6).repr  # a value as shown in a reason


def reason_text(value: Any) -> str:
    """What a vendor said (an error message, a code), as text for a reason: a text as it is
    (cut at 500 characters), anything else shown briefly."""
    return value[:500] if isinstance(value, str) else shown(value)


def identifier(item: dict[str, Any], key: str) -> str:
    """A required text the warehouse uses as a key (a campaign id, a phone): at most
    ``MAX_KEY`` characters, and no NUL character (which Postgres text cannot hold)."""
    value = text(item, key, required=True) or ""
    if len(value) > MAX_KEY:
        raise ItemProblem(f"{key} is longer than {MAX_KEY} characters: {shown(value)}")
    if "\x00" in value:  # Postgres text cannot hold NUL: the key could not be stored
        raise ItemProblem(f"{key} holds a NUL character: {shown(value)}")
    return value


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
    """A counter: an integer, or a string of digits (SMSFactor sends every number as text),
    possibly grouped by thousands with spaces (``"1 234"``). A counter with a decimal
    separator (``"1,5"``, ``"1.234"``) is refused: a count has no fraction, and whether
    ``"1,234"`` means 1234 or 1.234 depends on a locale the vendor does not state."""
    value = item.get(key)
    if isinstance(value, bool):
        raise ItemProblem(f"{key} should be an integer, got a boolean")
    if isinstance(value, str) and _GROUPED_INT.match(value.strip()):
        value = _ungrouped(value.strip())  # "1 234": thousands grouped by spaces
    if isinstance(value, str) and _INT.match(value.strip()):
        digits = value.strip()
        if len(digits) > 1000:  # int() converts at most 4300 digits; no counter has this many
            raise ItemProblem(f"{key} is not a plausible counter: {len(digits)} digits")
        value = int(digits)
    if isinstance(value, int):
        if not _COUNTER_MIN <= value <= _COUNTER_MAX:
            raise ItemProblem(f"{key} is not a plausible counter: {shown(value)}")
        return value
    if value is None:
        raise ItemProblem(f"{key} is missing")
    raise ItemProblem(f"{key} should be an integer, got {shown(value)}")


def decimal(item: dict[str, Any], key: str) -> Decimal | None:
    """Money or a rate, as Decimal (never float); missing, empty or blank is None. Written
    with a decimal point, or as a French locale prints it: a decimal comma and thousands
    grouped by spaces (``"1 234,5"``)."""
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ItemProblem(f"{key} should be a number, got {type(value).__name__}")
    spelled = str(value).strip()
    localized = _LOCALE_NUMBER.match(spelled)
    if localized:
        whole, fraction = localized.groups()
        spelled = _ungrouped(whole) + ("" if fraction is None else "." + fraction)
    try:
        number = Decimal(spelled)
    except InvalidOperation as exc:
        raise ItemProblem(f"{key} should be a number, got {shown(value)}") from exc
    if not number.is_finite():
        raise ItemProblem(f"{key} should be a finite number, got {shown(value)}")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if number.adjusted() > _MAX_EXPONENT or exponent < -_MAX_EXPONENT:
        raise ItemProblem(f"{key} is not a plausible amount: {shown(value)}")
    return number


def _ungrouped(digits: str) -> str:
    """``digits`` without the spaces that group its thousands."""
    for space in _GROUP_SPACES:
        digits = digits.replace(space, "")
    return digits


def utc_timestamp(item: dict[str, Any], key: str) -> datetime | None:
    """Nixflex time: ISO-8601 in UTC with ``Z``; a naive value is read as UTC, as documented."""
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItemProblem(f"{key} should be an ISO-8601 timestamp, got {shown(value)}")
    try:
        return iso_to_utc(value)
    except ValueError as exc:
        raise ItemProblem(f"{key} should be an ISO-8601 timestamp, got {shown(value)}") from exc


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
        raise ItemProblem(f"{key} should be 'Y-m-d H:i:s', got {shown(value)}")
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise ItemProblem(f"{key} should be 'Y-m-d H:i:s', got {shown(value)}") from exc
    try:
        return local.replace(tzinfo=PARIS).astimezone(UTC)
    except OverflowError as exc:
        raise ItemProblem(f"{key} is outside years 1-9999 in UTC, got {shown(value)}") from exc


def paris_wall_clock(instant: datetime) -> str:
    """An instant as SMSFactor writes dates: ``Y-m-d H:i:s`` on the Europe/Paris wall clock."""
    return instant.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")


def jsonb_problem(value: Any) -> str | None:
    """Why Postgres ``jsonb`` could not hold ``value`` as Python reads it, or None. (NUL is
    left to the warehouse to refuse, as in texts.)"""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode text ({exc.reason})"
    except ValueError:
        return "holds NaN or Infinity (or a number past a float's range): jsonb has neither"
    except RecursionError:
        return "is nested too deeply to store"
    return None


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


T = TypeVar("T")


def read_each(
    items: list[Any],
    read: Callable[[Any], T],
    what: str,
    campaign_id_of: Callable[[Any], str | None],
) -> tuple[list[T], list[Rejected]]:
    """Each item as ``read`` reads it; one it refuses (``ItemProblem``) is set aside as
    ``invalid_item``, named ``<what> #<position>`` and filed under ``campaign_id_of(item)``."""
    read_items: list[T] = []
    rejected: list[Rejected] = []
    for position, item in enumerate(items):
        try:
            read_items.append(read(item))
        except ItemProblem as exc:
            reason = f"{what} #{position}: {exc}"
            rejected.append(Rejected(INVALID_ITEM, reason, item, campaign_id_of(item)))
    return read_items, rejected
