"""A recipient's country from its phone number, exactly as the ``phonenumbers`` library says.

``country(phone)`` is ``phonenumbers.region_code_for_number(phonenumbers.parse(phone))``: the
ISO 3166-1 alpha-2 code of the region the number belongs to, or None when ``phonenumbers``
cannot parse the text or the number names no country (no region, or ``"001"``: the
non-geographic calling codes such as +800). ``phonenumbers`` also places a few territories
with numbering plans of their own under the codes it uses for them (``AC`` Ascension, ``TA``
Tristan da Cunha, ``XK`` Kosovo).

``parse`` is lenient (it accepts any way of writing a number) and costs tens of
microseconds, more than a whole recipient row. Recipients come as E.164 text, ``+`` and
ASCII digits, and for that form every step of ``parse`` is known: the calling code is the
first 1, 2 or 3 digits that ``phonenumbers`` knows as one (``COUNTRY_CODE_TO_REGION_CODE``),
the rest is the national number, kept as it is when the national prefix the library would
strip does not start it, and the number parses when that rest is 2 to 17 digits long. Then
a calling code with a single region names that region for every number, and a code shared by
several regions (+1, +7, +44...) names the first of its regions, in the library's order,
whose leading digits start the number or, for a region without leading digits, whose
general and one of whose type patterns (with their possible lengths) match it, as
``region_code_for_number`` tests them one after the other. ``_rule`` compiles those tests,
for the numbers of one calling code and one length, from the library's own metadata (no
table of our own), into one regular expression: a number then costs one match instead of a
parse. Anything else (another form, a national prefix present, a length the library does
not parse) is read by ``phonenumbers`` itself. ``tests/test_country.py`` proves that both
roads give the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberDesc,
    parse,
    region_code_for_number,
)
from phonenumbers.phonenumberutil import (
    _MAX_LENGTH_COUNTRY_CODE,
    _MAX_LENGTH_FOR_NSN,
    _MIN_LENGTH_FOR_NSN,
    REGION_CODE_FOR_NON_GEO_ENTITY,
)

_CODES = frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
Rule = Callable[[str], "re.Match[str] | None"]


def by_phonenumbers(phone: str) -> str | None:
    """What ``phonenumbers`` says, the slow way: its region, None for no country or for a
    text it cannot parse."""
    try:
        region = region_code_for_number(parse(phone))
    except NumberParseException:
        return None
    return None if region in (None, REGION_CODE_FOR_NON_GEO_ENTITY) else region


def country(phone: str) -> str | None:
    """The country of one phone number (see the module): the same as ``by_phonenumbers``."""
    return countries((phone,))[0]


def countries(phones: Iterable[str]) -> list[str | None]:
    """The country of each phone number, in order: one loop, with no call per number but
    the match of its rule (the loader's hot path: a recipient's load costs a few
    microseconds, a match a fraction of one)."""
    placed: list[str | None] = []
    append, rules_of = placed.append, _RULES.get
    for phone in phones:
        rules = rules_of(phone[:_HEAD])
        try:
            rule = rules[len(phone)]  # type: ignore[index]
        except (TypeError, IndexError):  # no rules yet for this head, or too long
            rule = None
        if rule is None:
            rule = _rule(phone)
        found = rule(phone) if rule is not None else None
        append(_NAMES[found.lastgroup] if found is not None else by_phonenumbers(phone))
    return placed


# How phonenumbers places the E.164 numbers of one length whose text starts with the same
# '+' and three digits (which hold the calling code): the fullmatch of one pattern, which
# fails on any other text and when the national prefix starts the national number (parsing
# may then strip it: left to the library); else the name of its last group says the
# country (a key of _NAMES). _RULES[head][length], compiled on first use.
_HEAD = 1 + _MAX_LENGTH_COUNTRY_CODE
_RULES: dict[str, list[Rule | None]] = {}
_NAMES: dict[str | None, str | None] = {"none": None}
_ANY = "[0-9]*"
_NEVER = re.compile("(?!)").fullmatch
_E164_HEAD = re.compile(f"\\+[0-9]{{{_HEAD - 1}}}", re.ASCII)


def _rule(phone: str) -> Rule | None:
    """The rule for numbers like this one, compiled and kept (None: not E.164 text of a
    length phonenumbers parses)."""
    head, length = phone[:_HEAD], len(phone)
    if _E164_HEAD.fullmatch(head) is None:
        return None
    digits = head[1:]
    code = next((digits[:n] for n in range(1, _HEAD) if digits[:n] in _CODES), None)
    national = length - 1 - len(code or "")
    if code is None or not _MIN_LENGTH_FOR_NSN <= national <= _MAX_LENGTH_FOR_NSN:
        return None
    try:
        rule = re.compile(f"\\+{code}{_national_source(code, national)}", re.ASCII).fullmatch
    except re.error:
        rule = _NEVER
    _RULES.setdefault(head, [None] * (_HEAD + _MAX_LENGTH_FOR_NSN + 1))[length] = rule
    return rule


def _national_source(code: str, length: int) -> str:
    """The pattern of the national numbers of this length under this calling code."""
    regions = COUNTRY_CODE_TO_REGION_CODE[int(code)]
    if regions == (REGION_CODE_FOR_NON_GEO_ENTITY,):
        source = f"{_ANY}(?P<none>)"
    elif len(regions) == 1:
        source = f"{_ANY}{_name(regions[0])}"
    else:
        tests = [(region, _region_test(region, length)) for region in regions]
        branches = [f"{test}{_name(region)}" for region, test in tests if test is not None]
        source = f"(?:{'|'.join([*branches, f'{_ANY}(?P<none>)'])})"
    main = PhoneMetadata.metadata_for_region_or_calling_code(int(code), regions[0])
    prefix = main.national_prefix_for_parsing if main is not None else None
    return f"(?!(?:{prefix})){source}" if prefix else source


def _name(region: str) -> str:
    """The empty group that names a region when it matches last."""
    _NAMES[region] = region
    return f"(?P<{region}>)"


def _region_test(region: str, length: int) -> str | None:
    """A pattern that fully matches a national number of this length exactly when
    ``_region_code_for_number_from_list`` picks this region for it (None: never)."""
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None:
        return None
    if metadata.leading_digits is not None:
        return f"(?=(?:{metadata.leading_digits})){_ANY}"
    general = _desc_test(metadata.general_desc, length)
    if general is None:
        return None
    # Any type but UNKNOWN will do: their order does not change the answer, so the usual
    # ones come first.
    kinds = ["mobile"] if not metadata.same_mobile_and_fixed_line_pattern else []
    kinds += ["fixed_line", "premium_rate", "toll_free", "shared_cost", "voip"]
    kinds += ["personal_number", "pager", "uan", "voicemail"]
    tests = [_desc_test(getattr(metadata, kind), length) for kind in kinds]
    tests = [test for test in tests if test is not None]
    return f"(?=(?:{general})\\Z)(?:{'|'.join(tests)})" if tests else None


def _desc_test(desc: PhoneNumberDesc | None, length: int) -> str | None:
    """The pattern of ``_is_number_matching_desc`` for numbers of this length (None: none of
    them matches)."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return f"(?:{desc.national_number_pattern})"
